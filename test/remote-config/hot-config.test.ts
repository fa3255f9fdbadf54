// Remote config over real MQTT: PLCs added and removed while another keeps polling with no gap in its seq;
// an invalid config refused and a config that cannot be applied rolled back, config/state saying why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import {
  ackAndResult,
  plcDoc,
  startHarness,
  type Harness,
  type Message,
} from '../commands/harness.js';
import { cmdId, nowSec } from '../commands/signer.js';

const seqs = (h: Harness, plc: string) =>
  h.messages.filter((m) => m.topic === `plc/${plc}/data`).map((m) => m.json.seq as number);

/**
 * Every seq once, rising by one. With resends, a message sent again after a reconnect (in flight when
 * the old connection went, so its PUBACK never came) may repeat an earlier seq: at-least-once, as the
 * contract allows, but a seq may never skip ahead of the highest seen + 1.
 */
function assertNoGap(list: number[], label: string, opts: { resends?: boolean } = {}): void {
  assert.ok(list.length > 5, `${label}: ${list.length} messages`);
  let max = list[0]!;
  for (let i = 1; i < list.length; i++) {
    if (opts.resends && list[i]! <= max) continue;
    assert.equal(list[i], max + 1, `${label}: seq ${list[i - 1]} → ${list[i]} (highest ${max})`);
    max = list[i]!;
  }
}

const state = (
  h: Harness,
  pred: (s: Record<string, unknown>) => boolean,
  label: string,
  timeoutMs = 8000,
): Promise<Message> =>
  h.waitFor((m) => m.topic === 'config/state' && pred(m.json), timeoutMs, label);

test(
  'a PLC added and another removed while a third keeps polling without a gap',
  { timeout: 60_000 },
  async (t) => {
    const h = await startHarness({ plcs: 3, configured: 2 });
    t.after(() => h.stop());
    await h.waitFor(
      () => seqs(h, 'plc1').length >= 5 && seqs(h, 'plc2').length >= 1,
      8000,
      'data from plc1 and plc2',
    );
    const plc1 = h.gateway.pollers.get('plc1');
    const doc = {
      ...h.doc,
      version: 2,
      plcs: [(h.doc.plcs as object[])[0], plcDoc('plc3', h.sims[2]!.port)],
    };
    await h.send('config/set', await h.signer.sign(doc));
    const applied = await state(
      h,
      (s) => s.status === 'applied' && s.version === 2,
      'config/state applied v2',
    );
    assert.match(String(applied.json.sha256), /^[0-9a-f]{64}$/);
    await h.waitFor(() => seqs(h, 'plc3').length >= 3, 8000, 'data from the added plc3');
    const plc2After = seqs(h, 'plc2').length;
    const plc1After = seqs(h, 'plc1').length;
    await h.waitFor(() => seqs(h, 'plc1').length >= plc1After + 10, 8000, 'plc1 keeps going');
    assert.equal(h.gateway.pollers.get('plc1'), plc1, 'plc1 was not restarted');
    assert.equal(h.gateway.pollers.get('plc2'), undefined);
    assert.ok(seqs(h, 'plc2').length <= plc2After + 1, 'plc2 stopped publishing');
    assertNoGap(seqs(h, 'plc1'), 'plc1');
    // Commands follow the new config: plc3 is writable, plc2 is gone.
    const id = cmdId('hot');
    await h.send(
      'cmd',
      await h.signer.sign({
        id,
        plc: 'plc3',
        op: 'write',
        values: { target: 77 },
        iat: nowSec(),
        exp: nowSec() + 60,
      }),
    );
    assert.equal((await ackAndResult(h, id)).result!.status, 'ok');
    const mb = await h.modbus(h.sims[2]!);
    assert.deepEqual((await mb.readHoldingRegisters(20, 1)).data, [77]);
    const gone = cmdId('gone');
    await h.send(
      'cmd',
      await h.signer.sign({
        id: gone,
        plc: 'plc2',
        op: 'read',
        tags: ['target'],
        iat: nowSec(),
        exp: nowSec() + 60,
      }),
    );
    assert.match(String((await ackAndResult(h, gone)).ack.reason), /^unknown-plc:plc2/);
  },
);

test(
  'an invalid config is refused and a config that cannot be applied is rolled back',
  { timeout: 60_000 },
  async (t) => {
    const h = await startHarness({ plcs: 1, commands: { configConfirmSeconds: 2 } });
    t.after(() => h.stop());
    await h.waitFor(() => seqs(h, 'plc1').length >= 3, 8000, 'data from plc1');
    const bad = {
      ...h.doc,
      version: 2,
      plcs: [
        {
          ...plcDoc('plc1', h.sims[0]!.port),
          transport: { type: 'tcp', host: '127.0.0.1', port: 70_000 },
        },
      ],
    };
    await h.send('config/set', await h.signer.sign(bad));
    const rejected = await state(h, (s) => s.status === 'rejected', 'config/state rejected');
    assert.match(String(rejected.json.error), /^invalid-config:plcs\.0\.transport\.port/);
    assert.equal(rejected.json.version, 0, 'the config in force is unchanged');

    // Valid, but the WMS broker it names is not there: the link cannot come up → roll back to the old broker.
    const dead = `mqtt://127.0.0.1:${await freePort()}`;
    const unreachable = { ...h.doc, version: 3, wms: { ...(h.doc.wms as object), urls: [dead] } };
    const before = seqs(h, 'plc1').length;
    await h.send('config/set', await h.signer.sign(unreachable));
    const rolled = await state(
      h,
      (s) => s.status === 'rolled_back',
      'config/state rolled_back',
      15_000,
    );
    assert.match(String(rolled.json.error), /apply failed: WMS link not up with the new settings/);
    assert.equal(rolled.json.version, 0);
    assert.deepEqual(rolled.json.attempted, {
      version: 3,
      sha256: (rolled.json.attempted as { sha256: string }).sha256,
    });
    assert.equal(
      h.remote.config.wms.urls[0],
      h.broker.url,
      'the previous WMS settings are in force',
    );
    // Back on the old broker: data resumes with no gap (the outbox kept what was read meanwhile).
    await h.waitFor(
      () => seqs(h, 'plc1').length >= before + 20,
      10_000,
      'plc1 data after the rollback',
    );
    // The link moved to the dead broker and back: what was in flight then may come twice, never a gap,
    // and a repeated seq is the same message sent again, not another reading given the same seq.
    assertNoGap(seqs(h, 'plc1'), 'plc1', { resends: true });
    const bySeq = new Map<number, string>();
    for (const m of h.messages.filter((x) => x.topic === 'plc/plc1/data')) {
      const body = JSON.stringify(m.json);
      const seen = bySeq.get(m.json.seq as number);
      if (seen !== undefined)
        assert.equal(body, seen, `seq ${String(m.json.seq)} sent again unchanged`);
      bySeq.set(m.json.seq as number, body);
    }
    // The same version, fixed, is accepted now.
    await h.send('config/set', await h.signer.sign({ ...h.doc, version: 3 }));
    await state(h, (s) => s.status === 'applied' && s.version === 3, 'config/state applied v3');
  },
);

test(
  'a config changing sections the agent cannot apply hot reports pending-restart, naming them',
  { timeout: 60_000 },
  async (t) => {
    const h = await startHarness({ plcs: 1 });
    t.after(() => h.stop());
    await h.waitFor(() => seqs(h, 'plc1').length >= 3, 8000, 'data from plc1');
    const doc = {
      ...h.doc,
      version: 2,
      ota: { minHealthySeconds: 120 },
      http: { host: '127.0.0.1' },
    };
    await h.send('config/set', await h.signer.sign(doc));
    const pending = await state(
      h,
      (s) => s.status === 'pending-restart' && s.version === 2,
      'config/state pending-restart',
    );
    assert.deepEqual([...(pending.json.pendingRestart as string[])].sort(), ['http', 'ota']);
    // A change of hot sections only is applied (and says so).
    await h.send('config/set', await h.signer.sign({ ...doc, version: 3, plcs: [] }));
    const applied = await state(h, (s) => s.version === 3, 'config/state v3');
    assert.equal(applied.json.status, 'applied');
    assert.equal(applied.json.pendingRestart, undefined);
  },
);
