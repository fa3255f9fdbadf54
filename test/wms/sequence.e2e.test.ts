// op: sequence through the running agent, a real mosquitto and the simulator: the order/strobe/acknowledge
// handshake completes and its cmd/result names each step; bounds and unreadable tags are refused in the
// ack; a PLC that never acknowledges ends in a timeout with later steps skipped; a PLC that goes away
// mid-sequence gives a clear error at once, not after the step's timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { onTeardown, startGateway, type Teardown } from '../helpers/gateway-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { cmdId, makeSigner, nowSec } from '../commands/signer.js';

const PREFIX = 'wms/acme/gw-seq/';
const ORDER = 100; // holding: order number, quantity at 101, result at 110
const STROBE = 10; // coil written by the WMS
const ACK = 11; // coil the PLC raises when it took the order

/** The sorter PLC: order/quantity written by the WMS, a strobe coil, and the PLC's ack coil. */
const SORTER = {
  timeoutMs: 500,
  reconnect: { minMs: 100, maxMs: 1000 },
  groups: [
    {
      intervalMs: 50,
      tags: [
        { name: 'order', area: 'holding', address: ORDER, type: 'uint16', writable: true },
        {
          name: 'qty',
          area: 'holding',
          address: ORDER + 1,
          type: 'uint16',
          writable: true,
          max: 100,
        },
        { name: 'result', area: 'holding', address: 110, type: 'uint16' },
        { name: 'strobe', area: 'coil', address: STROBE, type: 'bool', writable: true },
        { name: 'ack', area: 'coil', address: ACK, type: 'bool' },
      ],
    },
  ],
};

interface Reply {
  id: string;
  status: string;
  reason?: string;
  error?: string;
  steps?: {
    step: number;
    op: string;
    what: string;
    status: string;
    values?: Record<string, unknown>;
    error?: string;
  }[];
  values?: Record<string, unknown>;
}

/** The running agent with the sorter PLC, and a WMS client that signs and collects cmd replies. */
async function startSorter(t: Teardown) {
  const signer = await makeSigner('ES256', 'wms-seq');
  const gw = await startGateway(t, {
    id: 'gw-seq',
    sims: 1,
    plcIds: ['sorter'],
    move: false,
    wms: { reconnect: { minMs: 100, maxMs: 1000 } },
    plc: SORTER,
    extra: { commands: { keys: [signer.publicJwk], maxSequenceSteps: 8 } },
    collect: false,
  });
  const replies: { topic: string; json: Reply }[] = [];
  const wms = mqtt.connect(gw.broker.url, { protocolVersion: 5, reconnectPeriod: 200 });
  onTeardown(t, () => wms.endAsync(true));
  wms.on('error', () => {});
  wms.on('message', (topic, payload) => {
    if (topic.endsWith('/ack') || topic.endsWith('/result'))
      replies.push({ topic, json: JSON.parse(payload.toString()) as Reply });
  });
  await new Promise<void>((r) =>
    wms.once('connect', () => wms.subscribe(`${PREFIX}cmd/#`, { qos: 1 }, () => r())),
  );
  return { gw, sim: gw.sims[0]!, signer, wms, replies };
}

test(
  'a handshake sequence (order, strobe, wait for the PLC ack, read) and its failures',
  { timeout: 120_000 },
  async (t) => {
    const { sim, signer, wms, replies } = await startSorter(t);
    // The PLC's side of the handshake: 300 ms after the strobe rises, take the order and raise ack.
    let plcAnswers = true;
    let strobeSince = 0;
    const plc = setInterval(() => {
      const coils = sim.registers(1, 'coil');
      const hold = sim.registers(1, 'holding');
      if (!coils[STROBE]) {
        strobeSince = 0;
        coils[ACK] = 0;
        return;
      }
      strobeSince ||= Date.now();
      if (plcAnswers && !coils[ACK] && Date.now() - strobeSince >= 300) {
        hold[110] = hold[ORDER]! * 2 + hold[ORDER + 1]!;
        coils[ACK] = 1;
      }
    }, 20);
    onTeardown(t, () => clearInterval(plc));
    const send = async (steps: unknown[]) => {
      const id = cmdId('seq');
      const jws = await signer.sign({
        id,
        plc: 'sorter',
        op: 'sequence',
        steps,
        iat: nowSec(),
        exp: nowSec() + 120,
      });
      wms.publish(`${PREFIX}cmd`, jws, { qos: 1 });
      return id;
    };
    const reply = async (id: string, kind: 'ack' | 'result', timeoutMs = 20_000) => {
      await waitFor(
        () => replies.some((r) => r.topic.endsWith(`cmd/${kind}`) && r.json.id === id),
        timeoutMs,
        `cmd/${kind} of ${id}`,
      );
      return replies.find((r) => r.topic.endsWith(`cmd/${kind}`) && r.json.id === id)!.json;
    };
    const handshake = [
      { write: { order: 4242, qty: 7 } },
      { write: { strobe: true } },
      { waitFor: { tag: 'ack', equals: true, timeoutMs: 5000 } },
      { read: ['result'] },
      { write: { strobe: false } },
    ];

    // The agent is up once a first sequence is acked (retry until the link and the PLC are there).
    await waitFor(() => replies.some((r) => r.topic.endsWith('cmd/ack')), 30_000, 'agent up').catch(
      () => undefined,
    );
    let id = '';
    let res: Reply | undefined;
    for (let attempt = 0; attempt < 20 && res?.status !== 'ok'; attempt++) {
      id = await send(handshake);
      res = await reply(id, 'result', 30_000).catch(() => undefined);
      if (res?.status !== 'ok') await new Promise((r) => setTimeout(r, 500)); // PLC not connected yet
    }
    assert.equal((await reply(id, 'ack')).status, 'accepted');
    assert.equal(res?.status, 'ok', JSON.stringify(res));
    assert.deepEqual(
      res!.steps!.map((s) => [s.step, s.op, s.status]),
      [
        [0, 'write', 'ok'],
        [1, 'write', 'ok'],
        [2, 'waitFor', 'ok'],
        [3, 'read', 'ok'],
        [4, 'write', 'ok'],
      ],
    );
    assert.equal(res!.steps![2]!.what, 'waitFor ack equals true');
    assert.equal(res!.steps![3]!.values!.result, (4242 * 2 + 7) & 0xffff);
    assert.equal(sim.registers(1, 'holding')[ORDER], 4242);
    assert.equal(sim.registers(1, 'coil')[STROBE], 0, 'strobe lowered by the last step');

    // Refused in the ack: too many steps, a waitFor on a tag the PLC does not have, a bad value, waits too long.
    const refusals: [unknown[], RegExp][] = [
      [Array.from({ length: 9 }, () => ({ delayMs: 0 })), /^too-many-steps/],
      [[{ waitFor: { tag: 'nope', equals: 1, timeoutMs: 100 } }], /^unknown-tag:nope/],
      [[{ write: { order: 1 } }, { write: { qty: 500 } }], /^out-of-range:qty/],
      [[{ write: { result: 1 } }], /^not-writable:result/],
      [[{ waitFor: { tag: 'ack', equals: true, timeoutMs: 61_000 } }], /^sequence-too-long/],
      [[{ waitFor: { tag: 'ack', atLeast: 'x', timeoutMs: 100 } }], /^bad-claim/],
    ];
    for (const [steps, reason] of refusals) {
      const rid = await send(steps);
      const ack = await reply(rid, 'ack');
      assert.equal(ack.status, 'rejected', JSON.stringify(steps));
      assert.match(ack.reason ?? '', reason);
    }
    assert.equal(sim.registers(1, 'holding')[ORDER], 4242, 'a refused sequence wrote nothing');

    // The PLC never acknowledges: the waitFor times out, the steps after it are skipped.
    plcAnswers = false;
    const tid = await send([
      { write: { order: 5, strobe: true } },
      { waitFor: { tag: 'ack', equals: true, timeoutMs: 600 } },
      { read: ['result'] },
    ]);
    const timedOut = await reply(tid, 'result');
    assert.equal(timedOut.status, 'error');
    assert.deepEqual(
      timedOut.steps!.map((s) => s.status),
      ['ok', 'error', 'skipped'],
    );
    assert.match(
      timedOut.error!,
      /^step 1 \(waitFor ack equals true\): timeout: ack not equals true within 600 ms/,
    );

    // The PLC goes away in the middle of a long wait: a clear error well before the step's timeout.
    const coilWrites = () => (sim.requestsByFc[5] ?? 0) + (sim.requestsByFc[15] ?? 0);
    const writesBefore = coilWrites();
    const did = await send([
      { write: { strobe: false } },
      { waitFor: { tag: 'ack', equals: true, timeoutMs: 30_000 } },
    ]);
    await waitFor(
      () => replies.some((r) => r.topic.endsWith('cmd/ack') && r.json.id === did),
      10_000,
    );
    // Step 0 (the strobe write) was answered: with one request in flight per connection, a request
    // after the write (the step's wait or a poll) means the agent has the answer and is waiting.
    const requests = () => sim.requestsByFc.reduce((a, b) => a + b, 0);
    await waitFor(() => coilWrites() > writesBefore, 10_000, 'the strobe written');
    const afterWrite = requests();
    await waitFor(() => requests() > afterWrite + 1, 10_000, 'requests after the strobe write');
    const goneAt = Date.now();
    await sim.close();
    const gone = await reply(did, 'result', 20_000);
    t.diagnostic(`result ${Date.now() - goneAt} ms after the PLC went away: ${gone.error}`);
    assert.equal(gone.status, 'error');
    assert.equal(gone.steps![1]!.status, 'error');
    assert.doesNotMatch(gone.error!, /timeout: ack not/, 'the PLC loss, not the wait, ends it');
    assert.ok(Date.now() - goneAt < 15_000);
  },
);

test(
  'a sequence cut by kill -9 is never run again: the same command after the restart is "interrupted"',
  { timeout: 90_000 },
  async (t) => {
    const { gw, sim, signer, wms, replies } = await startSorter(t);
    const hold = sim.registers(1, 'holding');
    // The PLC never acknowledges: the sequence sits in its waitFor after writing order 1.
    const id = cmdId('seq-crash');
    const jws = await signer.sign({
      id,
      plc: 'sorter',
      op: 'sequence',
      steps: [
        { write: { order: 1 } },
        { waitFor: { tag: 'ack', equals: true, timeoutMs: 30_000 } },
        { write: { order: 2 } },
      ],
      iat: nowSec(),
      exp: nowSec() + 300,
    });
    await waitFor(
      () => {
        if (hold[ORDER] !== 1 && !replies.some((r) => r.json.id === id && r.topic.endsWith('ack')))
          wms.publish(`${PREFIX}cmd`, jws, { qos: 1 }); // until the agent and its PLC link are up
        return hold[ORDER] === 1;
      },
      40_000,
      'step 0 written',
      500,
    );
    await gw.agent.kill9();
    hold[ORDER] = 77; // a step run again would write 1 (or 2) over this
    replies.length = 0;
    await gw.agent.restart();
    await waitFor(
      () => {
        if (!replies.some((r) => r.json.id === id && r.topic.endsWith('result')))
          wms.publish(`${PREFIX}cmd`, jws, { qos: 1 });
        return replies.some((r) => r.json.id === id && r.topic.endsWith('result'));
      },
      40_000,
      'the duplicate answered after the restart',
      1000,
    );
    const ack = replies.find((r) => r.json.id === id && r.topic.endsWith('cmd/ack'))!.json;
    const res = replies.find((r) => r.json.id === id && r.topic.endsWith('result'))!.json;
    assert.equal(ack.status, 'accepted');
    assert.equal((ack as { note?: string }).note, 'duplicate');
    assert.equal(res.status, 'error');
    assert.match(res.error!, /^interrupted/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(hold[ORDER], 77, 'no step ran again');
  },
);
