// The poll grid: the first tick at once, then every interval on a grid shifted by the group's phase, so
// PLCs started together do not tick together; a PollerSet spreads its PLCs evenly, and a poller on its
// own gets a phase from a hash that is stable per PLC and group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TickScheduler, spreadPhase, tickPhase } from '../../plc/poller/tick-scheduler.js';
import { PollerSet } from '../../plc/poller/poller-set.js';
import type { PlcReading } from '../../plc/poller/plc-poller.js';
import { startSimulator } from '../../plc/simulator/simulator.js';
import { silentLogger, tcpPlc } from './plc-fixtures.js';
import { waitFor } from '../helpers/wait.js';

test('the first tick at once, the second after phase + interval, then every interval', async () => {
  const at: number[] = [];
  const s = new TickScheduler({
    intervalMs: 200,
    onTick: () => (at.push(performance.now()), true),
    onOverrun: () => undefined,
  });
  const t0 = performance.now();
  s.begin(150);
  await waitFor(() => at.length >= 4, 10_000, 'four ticks');
  s.stop();
  // Timers only ever fire late: lower bounds are exact, upper bounds wide for a loaded machine.
  assert.ok(at[0]! - t0 < 100, `first tick at once (${at[0]! - t0} ms)`);
  assert.ok(at[1]! - t0 >= 349, `second tick at phase + interval (${at[1]! - t0} ms)`);
  assert.ok(at[2]! - t0 >= 549 && at[3]! - t0 >= 749, 'then on the grid');
});

test('phases: the same key always gets the same phase, within min(interval, 1 s), spread out', () => {
  assert.equal(tickPhase('plc-1#0', 100), tickPhase('plc-1#0', 100));
  const keys = Array.from({ length: 400 }, (_, i) => `plc-${i}#0`);
  for (const interval of [10, 100, 1000, 60_000]) {
    const phases = keys.map((k) => tickPhase(k, interval));
    const span = Math.min(interval, 1000);
    assert.ok(
      phases.every((p) => p >= 0 && p < span),
      `within [0, ${span})`,
    );
    // Evenly spread: every quarter of the span holds between 15 % and 35 % of the keys.
    for (let q = 0; q < 4; q++) {
      const n = phases.filter((p) => p >= (q * span) / 4 && p < ((q + 1) * span) / 4).length;
      assert.ok(n > 60 && n < 140, `quarter ${q} of ${interval} ms: ${n} of 400`);
    }
  }
  assert.notEqual(tickPhase('plc-1#0', 1000), tickPhase('plc-1#1', 1000), 'groups differ too');
});

test('spreadPhase: a fraction of min(interval, 1 s)', () => {
  assert.equal(spreadPhase(0, 100), 0);
  assert.equal(spreadPhase(0.5, 100), 50);
  assert.equal(spreadPhase(0.25, 60_000), 250);
});

test(
  'a PollerSet spreads its PLCs evenly: four PLCs at 400 ms read ~100 ms apart',
  { timeout: 20_000 },
  async () => {
    const sim = await startSimulator({ port: 0 });
    const tag = [{ name: 'v', area: 'holding', address: 0, type: 'uint16' }];
    const set = new PollerSet({ logger: silentLogger });
    // Request send times per PLC (the reading's ts), after each PLC's first (immediate) tick.
    const sent = new Map<string, number[]>();
    set.on('reading', (r: PlcReading) => {
      const list = sent.get(r.plc) ?? [];
      list.push(Date.parse(r.ts));
      sent.set(r.plc, list);
    });
    try {
      await set.apply(
        ['p0', 'p1', 'p2', 'p3'].map((id) =>
          tcpPlc(id, sim.port, [{ intervalMs: 400, tags: tag }]),
        ),
      );
      await waitFor(
        () => [...sent.values()].filter((l) => l.length >= 4).length === 4,
        15_000,
        'four readings of each PLC',
      );
      // The grid of PLC i is p0's shifted by i × 100 ms: compare each PLC's third reading with p0's.
      const base = sent.get('p0')![2]!;
      for (const [i, id] of ['p1', 'p2', 'p3'].entries()) {
        const offset = (((sent.get(id)![2]! - base) % 400) + 400) % 400;
        // Timers fire late on a loaded machine: wide bounds, but a hash or no phase would not hit all three.
        assert.ok(
          Math.abs(offset - (i + 1) * 100) < 45,
          `${id} ${offset} ms after p0 on the grid, expected ~${(i + 1) * 100}`,
        );
      }
    } finally {
      await set.stop();
      await sim.close();
    }
  },
);
