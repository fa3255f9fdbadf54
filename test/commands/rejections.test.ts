// Every rejection reason, each over real MQTT against the simulator: a cmd/ack rejected naming the problem,
// no cmd/result, and the register untouched.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CompactSign } from 'jose';
import { startHarness, type Harness } from './harness.js';
import { cmdId, makeSigner, nowSec } from './signer.js';
import { reasonCode } from '../../agent/commands/rejection.js';

describe('every rejection has its reason', { timeout: 90_000 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      commands: { queueLength: 2, maxPayloadBytes: 4096, maxLifetimeSeconds: 600 },
    });
  });
  after(async () => h?.stop());

  const claims = (extra: Record<string, unknown> = {}) => ({
    id: cmdId('x'),
    plc: 'plc1',
    op: 'write',
    values: { target: 100 },
    iat: nowSec(),
    exp: nowSec() + 60,
    ...extra,
  });

  /** Send, expect a rejected ack whose reason starts with `code`, and no result. */
  async function expectRejected(
    payload: string | Buffer,
    id: string | null,
    code: string,
    re?: RegExp,
  ) {
    const before = h.messages.length;
    await h.send('cmd', payload);
    const ack = await h.waitFor(
      (m) => h.messages.indexOf(m) >= before && m.topic === 'cmd/ack' && m.json.id === id,
      5000,
      `ack for ${String(id)}`,
    );
    assert.equal(ack.json.status, 'rejected', JSON.stringify(ack.json));
    const reason = String(ack.json.reason);
    assert.equal(reasonCode(reason), code.split(':')[0], reason);
    assert.ok(reason.startsWith(code), `${reason} should start with ${code}`);
    if (re) assert.match(reason, re);
    await h.commands.idle();
    if (id !== null)
      assert.equal(
        h.messages.filter((m) => m.topic === 'cmd/result' && m.json.id === id).length,
        0,
        'no result for a rejected command',
      );
    return reason;
  }

  test('malformed: not JSON, not a JWS → id null', async () => {
    await expectRejected('hello', null, 'malformed');
  });
  test('malformed: a JSON array', async () => {
    await expectRejected('[1,2]', null, 'malformed');
  });
  test('too-large', async () => {
    const c = claims({ pad: 'x'.repeat(5000) });
    await expectRejected(await h.signer.sign(c), c.id, 'too-large');
    await expectRejected('x'.repeat(5000), null, 'too-large');
  });
  test('unsigned: plain JSON while requireSignature is true', async () => {
    const c = claims();
    await expectRejected(JSON.stringify(c), c.id, 'unsigned');
  });
  test('unknown-key: unknown kid', async () => {
    const c = claims();
    await expectRejected(await h.signer.sign(c, { kid: 'who' }), c.id, 'unknown-key:who');
  });
  test('bad-alg: EdDSA header on the ES256 key', async () => {
    const ed = await makeSigner('EdDSA', h.signer.kid);
    const c = claims();
    await expectRejected(await ed.sign(c), c.id, 'bad-alg:EdDSA');
  });
  test('bad-alg: HS256 keyed with the public key (alg confusion)', async () => {
    const c = claims();
    const jws = await new CompactSign(Buffer.from(JSON.stringify(c)))
      .setProtectedHeader({ alg: 'HS256', kid: h.signer.kid })
      .sign(Buffer.from(JSON.stringify(h.signer.publicJwk)));
    await expectRejected(jws, c.id, 'bad-alg:HS256');
  });
  test('bad-signature: signed by another key with the same kid', async () => {
    const impostor = await makeSigner('ES256', h.signer.kid);
    const c = claims();
    await expectRejected(await impostor.sign(c), c.id, 'bad-signature');
  });
  test('bad-signature: payload changed after signing', async () => {
    const c = claims({ values: { target: 10 } });
    const [hd, , sig] = (await h.signer.sign(c)).split('.');
    const forged = `${hd}.${Buffer.from(JSON.stringify({ ...c, values: { target: 1400 } })).toString('base64url')}.${sig}`;
    await expectRejected(forged, c.id, 'bad-signature');
  });
  for (const claim of ['exp', 'iat', 'plc', 'op', 'values'] as const) {
    test(`missing-claim:${claim}`, async () => {
      const c: Record<string, unknown> = claims();
      delete c[claim];
      await expectRejected(await h.signer.sign(c), c.id as string, `missing-claim:${claim}`);
    });
  }
  test('missing-claim:id → id null', async () => {
    const { id: _id, ...c } = claims();
    await expectRejected(await h.signer.sign(c), null, 'missing-claim:id');
  });
  test('missing-claim:tags for a read', async () => {
    const c = claims({ op: 'read', values: undefined });
    await expectRejected(await h.signer.sign(c), c.id, 'missing-claim:tags');
  });
  test('bad-claim: op neither write nor read, exp not a number', async () => {
    const c1 = claims({ op: 'erase' });
    await expectRejected(await h.signer.sign(c1), c1.id, 'bad-claim:op');
    const c2 = claims({ exp: 'tomorrow' });
    await expectRejected(await h.signer.sign(c2), c2.id, 'bad-claim:exp');
  });
  test('expired (beyond the clock tolerance)', async () => {
    const c = claims({ iat: nowSec() - 300, exp: nowSec() - 60 });
    await expectRejected(await h.signer.sign(c), c.id, 'expired');
  });
  test('within the clock tolerance is still valid', async () => {
    const c = claims({ iat: nowSec() - 100, exp: nowSec() - 10 });
    await h.send('cmd', await h.signer.sign(c));
    const ack = await h.waitFor((m) => m.topic === 'cmd/ack' && m.json.id === c.id);
    assert.equal(ack.json.status, 'accepted');
  });
  test('not-yet-valid:iat and :nbf', async () => {
    const c = claims({ iat: nowSec() + 300, exp: nowSec() + 400 });
    await expectRejected(await h.signer.sign(c), c.id, 'not-yet-valid:iat');
    const c2 = claims({ nbf: nowSec() + 300 });
    await expectRejected(await h.signer.sign(c2), c2.id, 'not-yet-valid:nbf');
  });
  test('lifetime-too-long', async () => {
    const c = claims({ exp: nowSec() + 3600 });
    await expectRejected(await h.signer.sign(c), c.id, 'lifetime-too-long');
  });
  test('replayed: an id reused by another command', async () => {
    const c = claims();
    await h.send('cmd', await h.signer.sign(c));
    await h.waitFor((m) => m.topic === 'cmd/result' && m.json.id === c.id);
    const before = h.messages.filter((m) => m.topic === 'cmd/result' && m.json.id === c.id).length;
    await h.send('cmd', await h.signer.sign({ ...c, values: { target: 1499 } }));
    const ack = await h.waitFor(
      (m) => m.topic === 'cmd/ack' && m.json.id === c.id && m.json.status === 'rejected',
    );
    assert.match(String(ack.json.reason), /^replayed:/);
    await h.commands.idle();
    assert.equal(
      h.messages.filter((m) => m.topic === 'cmd/result' && m.json.id === c.id).length,
      before,
    );
  });
  test('unknown-plc', async () => {
    const c = claims({ plc: 'nope' });
    await expectRejected(await h.signer.sign(c), c.id, 'unknown-plc:nope');
  });
  test('unknown-tag:x (and nothing else of the command is written)', async () => {
    const mb = await h.modbus(h.sims[0]!);
    await mb.writeRegister(20, 42);
    const c = claims({ values: { target: 1, x: 1 } });
    await expectRejected(await h.signer.sign(c), c.id, 'unknown-tag:x');
    assert.deepEqual((await mb.readHoldingRegisters(20, 1)).data, [42]);
  });
  test('unknown-tag in a read', async () => {
    const c = claims({ op: 'read', tags: ['target', 'y'] });
    await expectRejected(await h.signer.sign(c), c.id, 'unknown-tag:y');
  });
  test('not-writable: a holding tag without writable, an input register', async () => {
    const c = claims({ values: { ro: 1 } });
    await expectRejected(await h.signer.sign(c), c.id, 'not-writable:ro');
    const c2 = claims({ values: { temp: 1 } });
    await expectRejected(await h.signer.sign(c2), c2.id, 'not-writable:temp');
  });
  test('bad-value: wrong types for int16, bool, bit and string', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ target: 'fast' }, 'bad-value:target'],
      [{ running: 'yes' }, 'bad-value:running'],
      [{ flag: 2 }, 'bad-value:flag'],
      [{ label: 'toolong!!' }, 'bad-value:label'],
      [{ label: 5 }, 'bad-value:label'],
      [{ target: null }, 'bad-value:target'],
    ];
    for (const [values, code] of cases) {
      const c = claims({ values });
      await expectRejected(await h.signer.sign(c), c.id, code);
    }
  });
  test('out-of-range: above max, below min, beyond the type', async () => {
    const mb = await h.modbus(h.sims[0]!);
    await mb.writeRegister(20, 42);
    const c = claims({ values: { target: 1600 } });
    await expectRejected(await h.signer.sign(c), c.id, 'out-of-range:target', /1600 > max 1500/);
    const c2 = claims({ values: { target: -1 } });
    await expectRejected(await h.signer.sign(c2), c2.id, 'out-of-range:target', /< min 0/);
    const c3 = claims({ values: { count: -5 } });
    await expectRejected(await h.signer.sign(c3), c3.id, 'out-of-range:count');
    assert.deepEqual((await mb.readHoldingRegisters(20, 1)).data, [42]);
  });
  test('queue-full: more than queueLength commands waiting for one PLC', async () => {
    const fault = h.sims[0]!.setFault({
      area: 'holding',
      fc: 6,
      from: 20,
      to: 20,
      action: 'delay',
      ms: 300,
    });
    try {
      const cs = [claims(), claims(), claims()];
      const jws = await Promise.all(cs.map((c) => h.signer.sign(c)));
      for (const j of jws) await h.send('cmd', j);
      const acks = await Promise.all(
        cs.map((c) => h.waitFor((m) => m.topic === 'cmd/ack' && m.json.id === c.id)),
      );
      assert.deepEqual(
        acks.map((a) => a.json.status),
        ['accepted', 'accepted', 'rejected'],
      );
      assert.match(String(acks[2]!.json.reason), /^queue-full:plc1/);
    } finally {
      h.sims[0]!.clearFault(fault);
      await h.commands.idle();
    }
  });
});
