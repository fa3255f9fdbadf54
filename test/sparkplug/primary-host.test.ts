// Store and forward with a primary host (Sparkplug 3.0): the running agent births only once the host's
// STATE says online; when it goes offline the node sends NDEATH and keeps its readings in the outbox;
// bad or stale STATE messages are refused with alerts; when the host is back the node re-births and
// sends what it read meanwhile as historical metrics — every value, with no gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../helpers/wait.js';
import { byName, num, startRig, type SpMessage } from './harness.js';

const HOST = 'scada-1';
const DEVICE = 'line-3';
const STEP_MS = 1000;

test(
  'data taken while the primary host is offline arrives as historical metrics with no gap',
  { timeout: 300_000 },
  async (t) => {
    const rig = await startRig({
      sparkplug: { primaryHostId: HOST },
      plcs: (port) => [
        {
          id: DEVICE,
          transport: { type: 'tcp', host: '127.0.0.1', port },
          groups: [
            {
              intervalMs: 100,
              tags: [{ name: 'count', area: 'holding', address: 0, type: 'uint16' }],
            },
          ],
        },
      ],
    });
    const holding = rig.sim.registers(1, 'holding');
    holding[0] = 1;
    // The counter moves on only after the agent has read its value a few times (FC3 requests served), so
    // a read lost to a loaded machine cannot make a gap that delivery did not: each value is read.
    let readsAtStep = 0;
    let steppedAt = Date.now();
    const ticker = setInterval(() => {
      const reads = rig.sim.core.requestsByFc[3] ?? 0;
      if (reads - readsAtStep < 3 || Date.now() - steppedAt < STEP_MS) return;
      holding[0]!++;
      readsAtStep = reads;
      steppedAt = Date.now();
    }, 100);
    t.after(async () => {
      clearInterval(ticker);
      await rig.close();
    });
    const state = (online: boolean, timestamp: number) =>
      rig.publish(`spBv1.0/STATE/${HOST}`, JSON.stringify({ online, timestamp }), true);

    // No birth before the host's STATE.
    await rig.until(() => rig.online, 90_000, 'the agent to connect');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(rig.ofType('NBIRTH').length, 0, 'no NBIRTH while the host state is unknown');

    const t0 = Date.now();
    await state(true, t0);
    await rig.until(() => rig.ofType('DBIRTH', DEVICE).length > 0, 30_000, 'the births');
    const countAlias = num(byName(rig.ofType('DBIRTH', DEVICE)[0]!.payload).get('count')!.alias);
    const liveBefore = () =>
      rig.ofType('DDATA', DEVICE).filter((m) => m.payload.metrics.some((x) => !x.isHistorical));
    await rig.until(() => liveBefore().length >= 2, 30_000, 'live DDATA');

    // Host offline: NDEATH, then silence; the readings wait in the outbox.
    await state(false, t0 + 1);
    await rig.until(() => rig.ofType('NDEATH').length > 0, 30_000, 'the NDEATH');
    const quietFrom = rig.sp.length;
    const lastLiveValue = holding[0]!;

    // Bad STATE: not JSON, and an older timestamp than the one in force; neither births the node.
    await rig.publish(`spBv1.0/STATE/${HOST}`, 'ONLINE');
    await state(true, t0 - 5);
    await rig.until(
      () =>
        rig.alerts.some((a) => a.code === 'sparkplug.state-refused' && a.reason === 'malformed') &&
        rig.alerts.some((a) => a.code === 'sparkplug.state-refused' && a.reason === 'stale'),
      30_000,
      'alerts for the refused STATE messages',
    );
    await waitFor(
      () => holding[0]! >= lastLiveValue + 4,
      60_000,
      'the counter to move on while offline',
    );
    assert.equal(rig.sp.length, quietFrom, 'nothing published while the host is offline');
    const offlineTop = holding[0]!;

    // Host back: births, then the backlog as historical metrics, then live data.
    const back = Date.now();
    await state(true, back);
    await rig.until(
      () =>
        rig.sp
          .slice(quietFrom)
          .some(
            (m) =>
              m.type === 'DDATA' &&
              m.payload.metrics.some((x) => !x.isHistorical && (x.value as number) > offlineTop),
          ),
      60_000,
      'live DDATA after the host came back',
    );
    const after: SpMessage[] = rig.sp.slice(quietFrom);
    assert.equal(after[0]!.type, 'NBIRTH');
    assert.equal(after[1]!.type, 'DBIRTH');
    const historical = after
      .filter((m) => m.type === 'DDATA')
      .flatMap((m) => m.payload.metrics.filter((x) => x.isHistorical));
    assert.ok(historical.length > 0, 'historical metrics were sent');
    for (const h of historical) {
      assert.equal(num(h.alias), countAlias);
      assert.ok(num(h.timestamp) <= back, 'historical metrics carry the time they were read');
    }
    const offlineValues = new Set(historical.map((h) => h.value as number));
    // offlineTop itself may be read after the rebirth (then it is live or in the DBIRTH).
    for (let v = lastLiveValue + 1; v < offlineTop; v++)
      assert.ok(
        offlineValues.has(v),
        `value ${v} read while the host was offline arrived as historical`,
      );

    // No gap over the whole run: every counter value was published, live or historical or in a birth.
    const seen = new Set<number>();
    for (const m of rig.sp)
      for (const x of m.payload.metrics)
        if (
          (m.type === 'DDATA' && num(x.alias) === countAlias) ||
          (m.type === 'DBIRTH' && x.name === 'count')
        )
          seen.add(x.value as number);
    const lo = Math.min(...seen);
    const hi = Math.max(...seen);
    const story = () =>
      rig.sp
        .map(
          (m) =>
            `${m.type}:${m.payload.metrics.map((x) => `${String(x.value)}${x.isHistorical ? 'h' : ''}`).join('/')}`,
        )
        .join(' ');
    for (let v = lo; v <= hi; v++)
      assert.ok(seen.has(v), `counter value ${v} was published; messages: ${story()}`);
  },
);
