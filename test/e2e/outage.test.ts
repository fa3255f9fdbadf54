// Issue 3 through the whole agent: PLC values change every 100 ms while the broker is down for 20 s,
// the agent is killed with kill -9 during the outage and started again; the subscriber still gets
// every seq of every PLC, in order (duplicates allowed, gaps never), and the readings taken during the
// outage — by the killed agent and by the restarted one — were buffered and delivered afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway-fixture.js';
import { gapsAndDisorder } from '../link/collector.js';
import { sleep, waitFor } from '../helpers/wait.js';

test(
  'broker down 20 s and the agent kill -9ed during it: every seq of every PLC arrives in order',
  { timeout: 180_000 },
  async (t) => {
    // Every poll sees a new value (the fixture moves each counter), so every poll is a data message.
    const gw = await startGateway(t, {
      id: 'gw-out',
      broker: { persistent: true },
      sims: 2,
      wms: { reconnect: { minMs: 100, maxMs: 1000 } },
      collect: 'wms/acme/gw-out/plc/+/data',
      collectOpts: { clientId: 'e2e-outage', clean: false },
    });
    const { broker, sims, sub } = gw;
    const count = () => ['plc-0', 'plc-1'].map((p) => sub.seqs.get(p)?.length ?? 0);
    await waitFor(() => count().every((n) => n >= 10), 60_000, 'data flowing before the outage');
    await gw.savedSessions(); // the subscriber's session survives the broker's stop

    // The outage's length is the scenario (8 s, a kill -9, 12 s more), not a wait for a condition.
    await broker.stop();
    const down = Date.now();
    await sleep(8000); // readings pile up in the outbox
    await gw.agent.kill9();
    const killed = Date.now();
    await gw.agent.restart(); // restarts during the outage, replays its outbox when the broker returns
    const restarted = Date.now();
    // At least 12 s more, and until the restarted agent has polled each PLC ~50 times (its start-up
    // can take seconds on a loaded machine), so it has readings of its own to buffer.
    const polls = () => sims.map((s) => s.requestsByFc[3]!);
    const atKill = polls();
    await waitFor(
      () => polls().every((n, i) => n >= atKill[i]! + 50),
      60_000,
      'the restarted agent polling during the outage',
    );
    await sleep(Math.max(0, 12_000 - (Date.now() - restarted)));
    const up = Date.now();
    await broker.start();

    // After the outage, data keeps flowing: wait until each PLC's newest seq is well past the outage.
    const maxSeq = gw.maxSeq;
    const atRestart = { 'plc-0': maxSeq('plc-0'), 'plc-1': maxSeq('plc-1') };
    await waitFor(
      () => ['plc-0', 'plc-1'].every((p) => maxSeq(p) >= atRestart[p as 'plc-0'] + 150),
      40_000,
      'the backlog (~200 messages per PLC) and new data delivered',
    );
    for (const p of ['plc-0', 'plc-1']) {
      const seqs = sub.seqs.get(p)!;
      const first = seqs[0]!;
      assert.deepEqual(
        gapsAndDisorder(seqs, first),
        [],
        `${p}: no gap, no disorder (${seqs.length} messages, ${first}..${maxSeq(p)})`,
      );
      const distinct = new Set(seqs).size;
      t.diagnostic(
        `${p}: ${seqs.length} messages received, seq ${first}..${maxSeq(p)}, ${seqs.length - distinct} duplicates`,
      );
      assert.equal(
        distinct,
        maxSeq(p) - first + 1,
        `${p}: every seq from ${first} to ${maxSeq(p)} arrived`,
      );
    }
    // The readings taken while the broker was down arrived afterwards: by `ts` (the time of the read),
    // about 10 a second per PLC before the kill (the killed agent's outbox) and after the restart.
    const readAt = (p: string) =>
      sub.messages
        .filter((m) => m.topic.endsWith(`/plc/${p}/data`))
        .map((m) => Date.parse((JSON.parse(m.payload.toString()) as { ts: string }).ts));
    for (const p of ['plc-0', 'plc-1']) {
      const ts = readAt(p);
      const between = (a: number, b: number) => new Set(ts.filter((x) => x > a && x < b)).size;
      const beforeKill = between(down + 500, killed - 200);
      const afterRestart = between(restarted, up - 200);
      t.diagnostic(
        `${p}: ${beforeKill} readings before the kill, ${afterRestart} after the restart`,
      );
      // Margins for a loaded machine: 7 s at 10/s before the kill, 50 polls or more after.
      assert.ok(
        beforeKill >= 25,
        `${p}: the killed agent's outage readings arrived (${beforeKill})`,
      );
      assert.ok(
        afterRestart >= 25,
        `${p}: the restarted agent's outage readings arrived (${afterRestart})`,
      );
    }
  },
);
