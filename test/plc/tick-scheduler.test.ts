// The poll grid: the first tick at once, then every interval on a grid shifted by the group's phase, so
// PLCs started together do not tick together; phases are stable per PLC and group and spread out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TickScheduler, tickPhase } from '../../plc/poller/tick-scheduler.js';
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
