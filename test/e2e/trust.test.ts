// Trust as a chain, through the running agent (`wms-gateway run`), a real mosquitto and two simulated PLCs:
// a delegated, scoped command key writes (confirmed by our own Modbus read), is refused on another PLC and,
// once revoked, refused too; bad policies are refused with stable reasons and change nothing; config/set
// cannot bring keys in; roots rotate and the old root is refused. Then kill -9 while a policy is applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { makeSigner, nowSec } from '../commands/signer.js';
import { plcDoc, startPlc } from '../commands/harness.js';
import {
  WmsSession,
  delegate,
  killHard,
  makeRoot,
  policy,
  readHolding,
  startAgent,
  writeCommand,
  type Agent,
} from '../trust/trust-fixtures.js';

const PREFIX = 'wms/t1/gw-trust/';

function reason(st: Record<string, unknown>): string {
  return String(st.error ?? '').split(' ')[0]!;
}

test(
  'delegate, scope, revoke, refuse bad policies and config keys, rotate roots: through the agent',
  { timeout: 240_000 },
  async (t) => {
    const broker = await startMosquitto();
    const sims = [await startPlc(), await startPlc()];
    const dir = tmpDir('wmsgw-trust-');
    const root1 = await makeRoot('root-1');
    const root2 = await makeRoot('root-2');
    const root3 = await makeRoot('root-3');
    const stranger = await makeRoot('stranger');
    const impostor = await makeRoot('root-1'); // the same kid, another private key
    const wms = await makeSigner('ES256', 'wms-1');
    const cfgKey = await makeSigner('EdDSA', 'cfg-1');
    const doc = {
      gateway: { tenant: 't1', id: 'gw-trust' },
      wms: { urls: [broker.url], reconnect: { minMs: 50, maxMs: 500 }, heartbeatSeconds: 3600 },
      trust: { roots: [root1.publicJwk] },
      plcs: sims.map((s, i) => plcDoc(`plc${i + 1}`, s.port)),
    };
    const session = await WmsSession.open(broker.url, PREFIX);
    let agent: Agent | undefined;
    t.after(async () => {
      if (agent) await killHard(agent);
      await session.close();
      for (const s of sims) await s.close();
      await broker.stop();
      dir.cleanup();
    });
    agent = startAgent(dir.path, doc);
    const fail = (e: Error) => assert.fail(`${e.message}\nagent:\n${agent!.output().slice(-3000)}`);
    const first = await session.ready().catch(fail);
    assert.equal(first.version, 0);
    assert.deepEqual(first.roots, ['root-1']);

    // v1: wms-1 may command plc1 only; cfg-1 may sign config.
    const v1 = await policy(
      {
        version: 1,
        keys: [delegate(wms, ['commands'], { plcs: ['plc1'] }), delegate(cfgKey, ['config'])],
      },
      root1,
    );
    const s1 = await session.trustSet(v1);
    assert.equal(s1.status, 'applied', JSON.stringify(s1));
    assert.equal(s1.version, 1);
    assert.deepEqual(s1.keys, [
      { kid: 'wms-1', roles: ['commands'], plcs: ['plc1'] },
      { kid: 'cfg-1', roles: ['config'] },
    ]);

    // The delegated key writes plc1; our own Modbus read sees it.
    const w1 = writeCommand('plc1', { target: 321 });
    const r1 = await session.command(await wms.sign(w1), w1.id);
    assert.equal(r1.ack.status, 'accepted', JSON.stringify(r1.ack));
    assert.equal(r1.result?.status, 'ok', JSON.stringify(r1.result));
    assert.equal(await readHolding(sims[0]!.port, 20), 321);

    // Out of its scope: plc2.
    const w2 = writeCommand('plc2', { target: 5 });
    const r2 = await session.command(await wms.sign(w2), w2.id);
    assert.equal(r2.ack.status, 'rejected');
    assert.match(String(r2.ack.reason), /^out-of-scope:wms-1/);
    assert.equal(await readHolding(sims[1]!.port, 20), 0);

    // The config key cannot command; the command key cannot configure.
    const w3 = writeCommand('plc1', { target: 7 });
    assert.match(
      String((await session.command(await cfgKey.sign(w3), w3.id)).ack.reason),
      /^wrong-role:cfg-1/,
    );
    const cfgSet = async (signer: typeof wms, body: object) => {
      const at = session.mark();
      await session.send('config/set', await signer.sign(body));
      return session.next('config/state', at, (j) => j.status !== 'local');
    };
    assert.match(String((await cfgSet(wms, doc)).error), /^wrong-role:wms-1/);
    // A config that sneaks a key in, by any field, is refused; nothing in force changes.
    for (const sneaky of [
      { ...doc, commands: { keys: [wms.publicJwk] } },
      { ...doc, ota: { keys: [cfgKey.publicJwk] } },
      { ...doc, trust: { roots: [root1.publicJwk, stranger.publicJwk] } },
      { ...doc, trust: { roots: [root1.publicJwk], threshold: 1, maxPolicyBytes: 2048 } },
    ]) {
      const st = await cfgSet(cfgKey, sneaky);
      assert.equal(st.status, 'rejected', JSON.stringify(st));
      assert.match(String(st.error), /^trust-change-needs-root/);
    }
    // An honest config change by the config key applies.
    const honest = await cfgSet(cfgKey, { ...doc, version: 2, commands: { readBack: false } });
    assert.equal(honest.status, 'applied', JSON.stringify(honest));

    // Bad policies: each refused with its reason, version 1 stays in force.
    const now = nowSec();
    const bad: [string, string | Promise<string>][] = [
      ['stale-version', v1],
      ['stale-version', policy({ version: 1, keys: [] }, root1)],
      ['bad-signature', policy({ version: 2 }, impostor)],
      ['unknown-key', policy({ version: 2 }, stranger)],
      ['expired', policy({ version: 2, iat: now - 7200, exp: now - 3600 }, root1)],
      ['not-yet-valid', policy({ version: 2, iat: now + 3600, exp: now + 7200 }, root1)],
      ['malformed', 'not a policy'],
      ['malformed', '["a.b"]'],
      ['invalid-policy', policy({ version: 2, keys: [{ kid: 'x' }] }, root1)],
      ['too-large', 'x'.repeat(70_000)],
      [
        'private-key',
        policy(
          { version: 2, keys: [delegate(wms, ['commands'], { jwk: root2.privateJwk })] },
          root1,
        ),
      ],
      ['invalid-policy', policy({ version: 2, threshold: 2 }, root1)],
    ];
    for (const [want, payload] of bad) {
      const st = await session.trustSet(await payload);
      assert.equal(st.status, 'rejected', `${want}: ${JSON.stringify(st)}`);
      assert.equal(reason(st), want, JSON.stringify(st));
      assert.equal(st.version, 1);
    }
    // The delegated key still works after all that.
    const w4 = writeCommand('plc1', { target: 400 });
    assert.equal((await session.command(await wms.sign(w4), w4.id)).ack.status, 'accepted');

    // v2 revokes wms-1: refused, and the PLC keeps its value.
    const s2 = await session.trustSet(
      await policy({ version: 2, keys: [delegate(cfgKey, ['config'])], revoked: ['wms-1'] }, root1),
    );
    assert.equal(s2.status, 'applied', JSON.stringify(s2));
    const w5 = writeCommand('plc1', { target: 999 });
    const r5 = await session.command(await wms.sign(w5), w5.id);
    assert.match(String(r5.ack.reason), /^revoked-key:wms-1/);
    assert.equal(await readHolding(sims[0]!.port, 20), 400);

    // Root rotation: root-1 names root-2 and root-3 with threshold 2.
    const s3 = await session.trustSet(
      await policy(
        { version: 3, roots: [root2.publicJwk, root3.publicJwk], threshold: 2, revoked: ['wms-1'] },
        root1,
      ),
    );
    assert.equal(s3.status, 'applied', JSON.stringify(s3));
    assert.deepEqual(s3.roots, ['root-2', 'root-3']);
    const old = await session.trustSet(await policy({ version: 4 }, root1));
    assert.equal(reason(old), 'unknown-key', 'the old root is refused');
    const one = await session.trustSet(await policy({ version: 4 }, root2));
    assert.equal(reason(one), 'under-threshold');
    const { signPolicy } = await import('../../agent/trust/publisher.js');
    const twice = JSON.stringify({ version: 4, iat: nowSec(), exp: nowSec() + 86_400, keys: [] });
    const dup = await session.trustSet(
      JSON.stringify([
        await signPolicy(twice, [root2.privateJwk]),
        await signPolicy(twice, [root2.privateJwk]),
      ]),
    );
    assert.equal(reason(dup), 'under-threshold', 'one root twice is one root');

    // v4 by both new roots: a key already expired and one not yet valid are each refused by name.
    const expiredKey = await makeSigner('ES256', 'wms-old');
    const futureKey = await makeSigner('ES256', 'wms-next');
    const v4 = { version: 4, iat: nowSec(), exp: nowSec() + 86_400 * 60 } as const;
    const body = JSON.stringify({
      ...v4,
      keys: [
        delegate(expiredKey, ['commands'], { exp: nowSec() - 3600 }),
        delegate(futureKey, ['commands'], { nbf: nowSec() + 3600 }),
      ],
      revoked: ['wms-1'],
    });
    const s4 = await session.trustSet(await signPolicy(body, [root2.privateJwk, root3.privateJwk]));
    assert.equal(s4.status, 'applied', JSON.stringify(s4));
    assert.equal(s4.version, 4);
    for (const [k, want] of [
      [expiredKey, 'key-expired'],
      [futureKey, 'key-not-yet-valid'],
    ] as const) {
      const w = writeCommand('plc1', { target: 1 });
      const r = await session.command(await k.sign(w), w.id);
      assert.match(String(r.ack.reason), new RegExp(`^${want}:${k.kid}`));
    }
    assert.equal(await readHolding(sims[0]!.port, 20), 400);

    // The audit log has every applied and refused policy.
    await killHard(agent);
    agent = undefined;
    const { readFileSync } = await import('node:fs');
    const audit = readFileSync(join(dir.path, 'data', 'audit', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; outcome: string });
    const trustLines = audit.filter((a) => a.kind === 'trust');
    assert.equal(trustLines.filter((a) => a.outcome === 'applied').length, 4);
    assert.ok(trustLines.filter((a) => a.outcome === 'rejected').length >= bad.length + 3);
  },
);

test(
  'kill -9 while a policy is applied leaves the old or the new one in force',
  { timeout: 240_000 },
  async (t) => {
    const broker = await startMosquitto();
    const sim = await startPlc();
    const dir = tmpDir('wmsgw-trust-crash-');
    const root = await makeRoot('root-1');
    const wms = await makeSigner('ES256', 'wms-1');
    const doc = {
      gateway: { tenant: 't1', id: 'gw-trust' },
      wms: { urls: [broker.url], reconnect: { minMs: 50, maxMs: 500 }, heartbeatSeconds: 3600 },
      trust: { roots: [root.publicJwk] },
      plcs: [plcDoc('plc1', sim.port)],
    };
    const session = await WmsSession.open(broker.url, PREFIX);
    let agent: Agent | undefined;
    t.after(async () => {
      if (agent) await killHard(agent);
      await session.close();
      await sim.close();
      await broker.stop();
      dir.cleanup();
    });
    const v1 = await policy({ version: 1, keys: [delegate(wms, ['commands'])] }, root);
    const v1Sha = createHash('sha256').update(v1).digest('hex');
    const runTo = async (hold: string | undefined) => {
      agent = startAgent(dir.path, doc, hold ? { WMS_GATEWAY_TRUST_HOLD: hold } : {});
      return session.ready();
    };
    // Send v1 and wait until the agent holds there (an answer instead means it never got that far).
    const holdAt = async (point: string) => {
      const at = session.mark();
      await session.send('trust/set', v1);
      // Only an answer to v1 counts (a late answer to a readiness probe may still come).
      const toV1 = (m: { topic: string; json: Record<string, unknown> }) =>
        m.topic === 'trust/state' &&
        (m.json.attempted as { sha256?: string } | undefined)?.sha256 === v1Sha;
      await waitFor(
        () =>
          agent!.output().includes(`trust: holding ${point}`) ||
          session.messages.slice(at).some(toV1),
        60_000,
        `the hold at ${point}`,
      );
      const answer = session.messages.slice(at).find(toV1);
      assert.equal(answer, undefined, `answered instead of holding: ${JSON.stringify(answer)}`);
    };
    // Killed once the policy is checked but before it is saved: the old one (none) stays in force.
    assert.equal((await runTo('before-save')).version, 0);
    await holdAt('before-save');
    await killHard(agent!);
    // Killed right after the save, before anything was answered: the new one is in force.
    const afterFirst = await runTo('after-save');
    assert.equal(afterFirst.version, 0, 'killed before the save: the old policy is in force');
    await holdAt('after-save');
    await killHard(agent!);
    const afterSecond = await runTo(undefined);
    assert.equal(afterSecond.version, 1, 'killed after the save: the new policy is in force');
    assert.deepEqual(
      readdirSync(join(dir.path, 'data', 'trust')),
      ['policy.json'],
      'no temp file left',
    );
    // And it works: the delegated key writes, our Modbus read confirms; a replay is refused.
    const w = writeCommand('plc1', { target: 77 });
    const r = await session.command(await wms.sign(w), w.id);
    assert.equal(r.result?.status, 'ok', JSON.stringify(r));
    assert.equal(await readHolding(sim.port, 20), 77);
    assert.equal(reason(await session.trustSet(v1)), 'stale-version');
  },
);
