// The OTA state machine as a domain model: the table forbids what it does not list, every move is
// persisted with history, and the loop guard stops a deployment that keeps moving.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { otaPaths } from '../../ota/device/paths.js';
import {
  initialState,
  isLoopGuardError,
  loadState,
  move,
  saveState,
} from '../../ota/device/state-store.js';
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
  assert.throws(() => move(paths, s, 'Installing', { message: 'one too many' }), isLoopGuardError);
  move(paths, s, 'Failed', { message: 'aborted by the loop guard', reason: 'loop-guard' });
  assert.equal(loadState(paths).phase, 'Failed');
  // A new deployment starts counting again.
  move(paths, s, 'Verifying', { message: 'next' });
  assert.equal(loadState(paths).transitions, 1);
});

test('restarts count towards the loop guard: every save of a deployment in flight, Mender-style', () => {
  const paths = otaPaths(join(tmp.path, 'c'));
  const s = initialState();
  move(paths, s, 'Verifying', { message: 'start' });
  move(paths, s, 'Installing', { message: 'install' });
  move(paths, s, 'Switching', { message: 'switch' });
  move(paths, s, 'Probation', { message: 'probation' });
  // A restart loop in probation: each restart saves the state (boots + 1) and never reaches a
  // resting phase, so the count is never reset and the guard fires at the limit.
  let saves = 0;
  assert.throws(() => {
    for (;;) {
      saveState(paths, s);
      saves++;
    }
  }, isLoopGuardError);
  assert.equal(saves, MAX_TRANSITIONS - 4);
  assert.equal(loadState(paths).transitions, MAX_TRANSITIONS + 1, 'the count itself was saved');
  // The rollback is still allowed past the limit.
  move(paths, s, 'RollingBack', { message: 'loop guard', reason: 'loop-guard' });
  move(paths, s, 'Failed', { message: 'rolled back', reason: 'loop-guard' });
  // Saves in a resting phase (an alert mark) do not count.
  saveState(paths, s);
  assert.equal(loadState(paths).transitions, MAX_TRANSITIONS + 3);
});

test('rollout buckets are stable per gateway and spread over 0..100', () => {
  assert.equal(rolloutBucket('gw-1', 'wms-gateway'), rolloutBucket('gw-1', 'wms-gateway'));
  const buckets = Array.from({ length: 1000 }, (_, i) => rolloutBucket(`gw-${i}`, 'wms-gateway'));
  const under10 = buckets.filter((b) => b < 10).length;
  assert.ok(under10 > 60 && under10 < 140, `${under10} of 1000 under 10%`);
  assert.ok(buckets.every((b) => b >= 0 && b < 100));
});
