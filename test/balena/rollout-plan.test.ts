// Rollout plan parsing, wave membership and the wave verdict (pure functions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildPlan,
  isPlanError,
  parseDuration,
  parseShare,
  parseWave,
  readPlanFile,
} from '../../agent/rollout/plan.js';
import { assignWaves, bucketOf } from '../../agent/rollout/wave-selection.js';
import { evaluateWave } from '../../agent/rollout/wave-evaluation.js';
import type { WaveState } from '../../agent/rollout/rollout-state.js';
import type { FleetDevice } from '../../agent/balena/cloud-api-client.js';
import { tmpDir } from '../helpers/tmp.js';

test('durations, shares and wave specs', () => {
  assert.equal(parseDuration('300ms', 'soak'), 300);
  assert.equal(parseDuration('10m', 'soak'), 600_000);
  assert.equal(parseDuration(5, 'soak'), 5000);
  assert.throws(
    () => parseDuration('soon', 'soak'),
    (e) => isPlanError(e) && /^soak:/.test(e.message),
  );
  assert.equal(parseShare('90%', 'x'), 0.9);
  assert.equal(parseShare('0.5', 'x'), 0.5);
  assert.throws(() => parseShare('0', 'x'), isPlanError);
  assert.throws(() => parseShare('120%', 'x'), isPlanError);
  assert.deepEqual(parseWave('ring=canary'), {
    label: 'ring=canary',
    tag: { key: 'ring', value: 'canary' },
  });
  assert.deepEqual(parseWave('ring=eu,50%'), {
    label: 'ring=eu,50%',
    tag: { key: 'ring', value: 'eu' },
    percent: 50,
  });
  assert.deepEqual(parseWave('all'), { label: 'all', percent: 100 });
  assert.throws(() => parseWave('0%'), isPlanError);
  assert.throws(() => parseWave('canary'), isPlanError);
});

test('a plan file, with flags winning, and errors naming the field', (t) => {
  const dir = tmpDir('plan-');
  t.after(dir.cleanup);
  const f = join(dir.path, 'plan.yaml');
  writeFileSync(
    f,
    'fleet: acme/gw\nrelease: 0.2.0\nwaves: [ring=canary, 25%, 100%]\nsoak: 5m\nsuccessShare: 95%\n',
  );
  const plan = buildPlan(readPlanFile(f), { soak: '30s' });
  assert.equal(plan.fleet, 'acme/gw');
  assert.equal(plan.soakMs, 30_000);
  assert.equal(plan.successShare, 0.95);
  assert.equal(plan.waves.length, 3);
  writeFileSync(f, 'fleet: acme/gw\nwaves: 3\n');
  assert.throws(
    () => readPlanFile(f),
    (e) => isPlanError(e) && /waves:/.test(e.message),
  );
  assert.throws(
    () => buildPlan({ fleet: 'a' }, {}),
    (e) => isPlanError(e) && /^release:/.test(e.message),
  );
  assert.throws(
    () => buildPlan({ fleet: 'a', release: '1', soak: '1h', waveTimeout: '10m' }, {}),
    /waveTimeout/,
  );
});

test('percent waves are cumulative, stable and disjoint; tag waves go first', () => {
  const devices = Array.from({ length: 400 }, (_, i) => ({
    uuid: `device-${i}`,
    tags: (i % 50 === 0 ? { ring: 'canary' } : {}) as Record<string, string>,
  }));
  assert.equal(bucketOf('device-7'), bucketOf('DEVICE-7'));
  const { waves, unassigned } = assignWaves(
    devices,
    ['ring=canary', '25%', '100%'].map((w) => parseWave(w)),
  );
  assert.equal(unassigned.length, 0);
  assert.equal(waves[0]!.length, 8);
  assert.equal(waves.flat().length, 400);
  assert.equal(new Set(waves.flat().map((d) => d.uuid)).size, 400);
  // About a quarter of the non-canary devices (stable hash, not exact).
  assert.ok(waves[1]!.length > 60 && waves[1]!.length < 135, `25% wave has ${waves[1]!.length}`);
  const again = assignWaves(
    [...devices].reverse(),
    ['ring=canary', '25%', '100%'].map((w) => parseWave(w)),
  );
  assert.deepEqual(
    again.waves[1]!.map((d) => d.uuid),
    waves[1]!.map((d) => d.uuid),
  );
});

test('wave verdict: soak, success share, failure threshold, timeout', () => {
  const gates = { soakMs: 1000, successShare: 1, failureThreshold: 0.5, waveTimeoutMs: 10_000 };
  const wave = (): WaveState => ({
    spec: { label: '100%', percent: 100 },
    status: 'soaking',
    startedAt: 0,
    finishedAt: null,
    devices: [1, 2].map((id) => ({
      id,
      uuid: `u${id}`,
      name: `d${id}`,
      previousPin: null,
      previousRunning: 7,
      healthySince: null,
      failed: null,
    })),
  });
  const live = (health: string, rel = 8, online = true) =>
    new Map<number, FleetDevice>(
      [1, 2].map((id) => [
        id,
        {
          id,
          uuid: `u${id}`,
          name: '',
          online,
          runningRelease: rel,
          pinnedRelease: 8,
          tags: { 'gw.health': health },
        },
      ]),
    );
  const w = wave();
  assert.equal(evaluateWave(w, live('ok', 7), 8, gates, 100).kind, 'waiting'); // old release's ok does not count
  assert.equal(evaluateWave(w, live('ok'), 8, gates, 200).kind, 'waiting');
  assert.equal(evaluateWave(w, live('ok'), 8, gates, 1100).kind, 'waiting'); // 900 ms of soak
  assert.equal(evaluateWave(w, live('ok'), 8, gates, 1200).kind, 'succeeded');
  const w2 = wave();
  evaluateWave(w2, live('ok'), 8, gates, 100);
  assert.equal(evaluateWave(w2, live('degraded'), 8, gates, 600).kind, 'waiting'); // soak restarts
  assert.equal(evaluateWave(w2, live('ok'), 8, gates, 1200).kind, 'waiting');
  assert.equal(evaluateWave(w2, live('ok', 8, false), 8, gates, 1300).counts.ok, 0); // offline is not ok
  const v = evaluateWave(wave(), live('failing'), 8, gates, 100);
  assert.equal(v.kind, 'failed');
  assert.equal(evaluateWave(wave(), live('failing', 7), 8, gates, 100).kind, 'waiting');
  const timeout = evaluateWave(wave(), live('degraded'), 8, gates, 10_001);
  assert.ok(timeout.kind === 'failed' && /timeout/.test(timeout.reason));
});
