// Reconnect backoff: capped exponential with equal jitter, per PLC.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../platform/backoff.js';

test('backoff doubles from minMs, stays within [d/2, d], and is capped at maxMs', () => {
  const lo = () => 0;
  const hi = () => 0.999999;
  const expected = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000];
  expected.forEach((d, attempt) => {
    assert.equal(backoffDelay(attempt, 500, 30_000, lo), d / 2, `attempt ${attempt} low`);
    assert.ok(
      Math.abs(backoffDelay(attempt, 500, 30_000, hi) - d) < 0.1,
      `attempt ${attempt} high`,
    );
  });
  assert.equal(backoffDelay(1000, 500, 30_000, lo), 15_000); // no overflow for huge attempt counts
  const samples = Array.from({ length: 200 }, () => backoffDelay(3, 100, 10_000));
  assert.ok(samples.every((x) => x >= 400 && x <= 800));
  assert.ok(new Set(samples).size > 150, 'jittered');
});
