// The OTA lock across container restarts: a pid alone is not an identity (pids repeat across container
// starts), so the lock names its owner by pid + process start time + boot id. A lock left by a process
// that is gone — even when its pid now belongs to a live process — is taken over; a live owner's is not.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { isOtaStateError } from '../../ota/errors.js';
import { bootId, lockHolder, lockLine, withOtaLock } from '../../ota/device/op-lock.js';

const tmp = tmpDir('ota-lock-');
after(() => tmp.cleanup());
const file = join(tmp.path, 'ota', 'lock');
mkdirSync(join(tmp.path, 'ota'), { recursive: true });

test('a live owner keeps the lock; the same pid with another start time or boot is stale', async () => {
  // A real other process holding the lock (its own line: pid, start time, boot id).
  const owner = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  after(() => owner.kill('SIGKILL'));
  await new Promise((r) => owner.once('spawn', r));
  writeFileSync(file, lockLine('agent', owner.pid));
  assert.equal(lockHolder(file), owner.pid);
  await assert.rejects(
    withOtaLock(file, 'test', () => 'ran', 200),
    isOtaStateError,
  );

  // The same live pid, but the lock was written by an earlier process that had it (a previous
  // container): another start time.
  const [pid, , boot] = lockLine('agent', owner.pid).trim().split(' ');
  writeFileSync(file, `${pid} 1 ${boot} agent\n`);
  assert.equal(lockHolder(file), undefined);
  assert.equal(await withOtaLock(file, 'test', () => 'ran', 200), 'ran');

  // Written before a reboot: another boot id.
  if (bootId()) {
    writeFileSync(file, `${pid} - 00000000-0000-0000-0000-000000000000 agent\n`);
    assert.equal(lockHolder(file), undefined);
  }
  // An older lock with the pid alone is still judged by the pid.
  writeFileSync(file, `${pid} agent\n`);
  assert.equal(lockHolder(file), owner.pid);
});
