// The OTA state machine as a domain model: the table forbids what it does not list, every move is
// persisted with history, and the loop guard stops a deployment that keeps moving.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { otaPaths } from '../../ota/device/paths.js';
import { initialState, loadState, move } from '../../ota/device/state-store.js';
import {
  MAX_TRANSITIONS,
  PHASES,
  TRANSITIONS,
  isTransitionError,
} from '../../ota/device/states.js';
import { rolloutBucket } from '../../ota/device/policy.js';

const tmp = tmpDir('ota-sm-');
after(() => tmp.cleanup());

test('every phase has an entry in the transitions table and only listed moves are allowed', () => {
  const paths = otaPaths(join(tmp.path, 'a'));
  for (const p of PHASES) assert.ok(TRANSITIONS[p], p);
  const s = initialState();
  assert.throws(() => move(paths, s, 'Committed', { message: 'skip ahead' }), isTransitionError);
  move(paths, s, 'Verifying', { message: 'start' });
  const back = loadState(paths);
  assert.equal(back.phase, 'Verifying');
  assert.equal(back.history.length, 1);
  assert.equal(back.history[0]!.from, 'Idle');
});

test('the loop guard aborts a deployment that makes too many transitions', () => {
  const paths = otaPaths(join(tmp.path, 'b'));
  const s = initialState();
  move(paths, s, 'Verifying', { message: 'start' });
  s.transitions = MAX_TRANSITIONS;
  assert.throws(() => move(paths, s, 'Installing', { message: 'one too many' }), isTransitionError);
  move(paths, s, 'Failed', { message: 'aborted by the loop guard', reason: 'loop-guard' });
  assert.equal(loadState(paths).phase, 'Failed');
  // A new deployment starts counting again.
  move(paths, s, 'Verifying', { message: 'next' });
  assert.equal(loadState(paths).transitions, 1);
});

test('rollout buckets are stable per gateway and spread over 0..100', () => {
  assert.equal(rolloutBucket('gw-1', 'wms-gateway'), rolloutBucket('gw-1', 'wms-gateway'));
  const buckets = Array.from({ length: 1000 }, (_, i) => rolloutBucket(`gw-${i}`, 'wms-gateway'));
  const under10 = buckets.filter((b) => b < 10).length;
  assert.ok(under10 > 60 && under10 < 140, `${under10} of 1000 under 10%`);
  assert.ok(buckets.every((b) => b >= 0 && b < 100));
});
