// wms.delivery: wms-ack through the running agent, a real mosquitto and the simulator: the WMS stops
// acknowledging and the gateway keeps and resends; the WMS (clean session, no queue at the broker) goes
// away while the agent is kill -9ed and restarted; forged and junk acks are sent all along. In the end
// the WMS holds every seq without a gap and the gateway's outbox is empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onTeardown, startGateway } from '../helpers/gateway-fixture.js';
import { sleep, waitFor, waitForAsync } from '../helpers/wait.js';
import { wmsSide } from './wms-side.js';

const PLCS = ['plc-0', 'plc-1']; // the fixture's names for its two simulators

test(
  'wms-ack: kept and resent while the WMS does not acknowledge or is away, across a kill -9; no gap',
  { timeout: 150_000 },
  async (t) => {
    const gw = await startGateway(t, {
      id: 'gw-ack',
      sims: 2,
      wms: {
        reconnect: { minMs: 100, maxMs: 1000 },
        delivery: 'wms-ack',
        ackTimeoutSeconds: 2,
      },
      collect: false,
      http: true,
    });
    const wms = wmsSide(gw.broker.url, 'acme', 'gw-ack');
    onTeardown(t, () => wms.close());
    await wms.connect();
    const seen = (p: string) => wms.received.get(p)?.length ?? 0;
    await waitFor(() => PLCS.every((p) => wms.contiguous(p) >= 20), 40_000, 'data acknowledged');

    // Forged and junk acks all along: none may release anything (checked by the final no-gap test).
    const junk = setInterval(() => {
      wms.publish('plc/plc-0/ack', JSON.stringify({ seq: 1e9 }));
      wms.publish('plc/plc-1/ack', JSON.stringify({ seq: -1 }));
      wms.publish('plc/plc-0/ack', JSON.stringify({ seq: '99999' }));
      wms.publish('plc/plc-0/ack', '{"seq": 1.5}');
      wms.publish('plc/no-such-plc/ack', JSON.stringify({ seq: 1 }));
      wms.publish('plc/plc-1/ack', Buffer.from([0xff, 0x00, 0x13]));
    }, 100);
    onTeardown(t, () => clearInterval(junk));
    for (let i = 0; i < 500; i++) wms.publish('plc/plc-0/ack', JSON.stringify({ seq: 1e6 + i })); // a flood

    // 1. The WMS stops acknowledging: the gateway keeps the data and sends it again after the timeout.
    wms.acking = false;
    const acked = Object.fromEntries(PLCS.map((p) => [p, wms.lastAck.get(p) ?? 0]));
    const before = Object.fromEntries(PLCS.map((p) => [p, seen(p)]));
    await waitFor(
      () =>
        PLCS.every((p) => {
          const after = wms.received.get(p)!.slice(before[p]);
          return after.some((s, i) => after.indexOf(s) !== i); // a seq received twice
        }),
      20_000,
      'unacknowledged data sent again after wms.ackTimeoutSeconds',
    );

    // 2. The WMS goes away (no persistent session: the broker keeps nothing for it); the agent is
    //    killed and restarted meanwhile.
    await wms.disconnect();
    await sleep(2000);
    await gw.agent.restart(); // kill -9, then start again
    await sleep(4000);

    // 3. It comes back: a fresh session, acknowledging again. The gateway resends from what was acked.
    const backAt = Object.fromEntries(PLCS.map((p) => [p, seen(p)]));
    wms.acking = true;
    await wms.connect();
    await waitFor(
      () => PLCS.every((p) => wms.contiguous(p) >= acked[p]! + 100),
      60_000,
      'the backlog delivered after the WMS returned',
    );
    for (const p of PLCS) {
      const replay = wms.received.get(p)!.slice(backAt[p]);
      assert.ok(
        replay.every((s) => s > acked[p]!),
        `${p}: nothing the WMS acknowledged before the kill was sent again (acked ${acked[p]})`,
      );
    }

    // 4. Data stops changing: once the WMS holds everything, the outbox is empty.
    gw.mover.moving = false;
    let state: { outbox: { messages: number }; wms: { delivery: string } } | undefined;
    await waitForAsync(
      async () => {
        const r = await fetch(`http://127.0.0.1:${gw.httpPort}/api/state`);
        state = r.ok ? ((await r.json()) as typeof state) : undefined;
        return state?.outbox.messages === 0;
      },
      40_000,
      'the outbox drained by WMS acks',
    );
    assert.equal(state!.wms.delivery, 'wms-ack');
    // Acks the WMS sent may still be crossing with the last resends: wait until what it holds settles.
    const highest = (p: string) => Math.max(...wms.received.get(p)!);
    await waitFor(
      () => PLCS.every((p) => wms.contiguous(p) === highest(p)),
      10_000,
      'the WMS holding every seq up to the highest it received',
    ).catch(() => undefined); // the assertions below say what is missing
    for (const p of PLCS) {
      const got = new Set(wms.received.get(p));
      const first = Math.min(...got);
      const last = Math.max(...got);
      const missing = [];
      for (let s = first; s <= last; s++) if (!got.has(s)) missing.push(s);
      assert.deepEqual(missing.slice(0, 10), [], `${p}: every seq ${first}..${last} received`);
      assert.equal(wms.contiguous(p), last, `${p}: the WMS holds ${first}..${last} without a gap`);
      t.diagnostic(
        `${p}: ${wms.received.get(p)!.length} messages, seq ${first}..${last}, acked before stop ${acked[p]}`,
      );
    }
  },
);
