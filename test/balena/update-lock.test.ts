// balena update lock: O_EXCL file, ref-counted holders, stale locks of ours vs. others' locks.
// Other holders are real child processes (kill -9 for the crash case).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  UpdateLock,
  isLockBusyError,
  isUpdateLockError,
  LOCK_OWNER,
} from '../../agent/balena/update-lock.js';
import { createLogger } from '../../platform/logger.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitForOutput } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
const HOLDER = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hold-lock.ts');

function lockPath(t: { after: (fn: () => void) => void }): string {
  const dir = tmpDir('lock-');
  t.after(dir.cleanup);
  return join(dir.path, 'balena', 'updates.lock'); // parent dir created on demand, as under balena
}

/** Try O_EXCL creation from a separate process, as balena's own lockfile would. */
function otherProcessCanCreate(path: string): boolean {
  const r = spawnSync(process.execPath, [
    '-e',
    `try { require('fs').closeSync(require('fs').openSync(${JSON.stringify(path)}, 'wx')); require('fs').unlinkSync(${JSON.stringify(path)}); process.exit(0) } catch (e) { process.exit(e.code === 'EEXIST' ? 3 : 4) }`,
  ]);
  assert.ok(r.status === 0 || r.status === 3, `child failed: ${r.stderr}`);
  return r.status === 0;
}

async function startHolder(
  path: string,
  t: { after: (fn: () => void) => void },
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  await waitForOutput(child, /held/, 15_000);
  return child;
}

test(
  'held while a PLC command and an OTA switch overlap, released after both',
  { timeout: 10_000 },
  async (t) => {
    const path = lockPath(t);
    const lock = new UpdateLock({ path, logger });
    let endCmd!: () => void;
    const cmdDone = new Promise<void>((r) => (endCmd = r));
    const cmd = lock.withLock('plc conveyor-1 cmd c-17', async () => {
      assert.ok(existsSync(path));
      assert.equal(otherProcessCanCreate(path), false, 'O_EXCL: another process cannot take it');
      await cmdDone;
      return 'written';
    });
    await waitFor(() => lock.held().length === 1, 5_000, 'the command holding the lock');
    const ota = lock.withLock('ota switch to slot b', async () => {
      assert.deepEqual(lock.held().sort(), ['ota switch to slot b', 'plc conveyor-1 cmd c-17']);
      return 'switched';
    });
    assert.equal(await ota, 'switched');
    assert.ok(existsSync(path), 'still held by the command');
    assert.deepEqual(lock.held(), ['plc conveyor-1 cmd c-17']);
    const stamp = JSON.parse(readFileSync(path, 'utf8')) as { owner: string; pid: number };
    assert.equal(stamp.owner, LOCK_OWNER);
    assert.equal(stamp.pid, process.pid);
    endCmd();
    assert.equal(await cmd, 'written');
    assert.equal(existsSync(path), false, 'released after the last holder');
    assert.deepEqual(lock.held(), []);
    assert.equal(otherProcessCanCreate(path), true);
  },
);

test(
  'released when the holder fails, and the error passes through',
  { timeout: 5_000 },
  async (t) => {
    const path = lockPath(t);
    const lock = new UpdateLock({ path, logger });
    await assert.rejects(
      lock.withLock('plc press-2 cmd c-9', async () => {
        throw new Error('PLC timeout');
      }),
      /PLC timeout/,
    );
    assert.equal(existsSync(path), false);
  },
);

test(
  "someone else's lock is respected: wait, then LockBusyError",
  { timeout: 20_000 },
  async (t) => {
    const path = lockPath(t);
    const holder = await startHolder(path, t); // another live process holds it
    const lock = new UpdateLock({ path, logger, waitTimeoutMs: 400, pollMs: 50 });
    lock.clearStale(); // a live holder's lock is not stale
    assert.ok(existsSync(path));
    const t0 = Date.now();
    let ran = false;
    await assert.rejects(
      lock.withLock('ota switch', async () => {
        ran = true;
      }),
      (e) => isLockBusyError(e) && e.reason === 'ota switch',
    );
    assert.ok(Date.now() - t0 >= 400);
    assert.equal(ran, false);
    // A foreign lock file (balena's lockfile writes no stamp) is never cleared either.
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    writeFileSync(path, '');
    lock.clearStale();
    assert.ok(existsSync(path));
    // When it goes away during our wait, we get it.
    setTimeout(() => unlinkSync(path), 200);
    const slow = new UpdateLock({ path, logger, waitTimeoutMs: 3_000, pollMs: 50 });
    assert.equal(await slow.withLock('backup', async () => existsSync(path)), true);
    assert.equal(existsSync(path), false);
  },
);

test(
  'a stale lock of ours left by a crashed instance is cleared at start',
  { timeout: 20_000 },
  async (t) => {
    const path = lockPath(t);
    const crashed = await startHolder(path, t);
    crashed.kill('SIGKILL');
    await new Promise((r) => crashed.once('exit', r));
    assert.ok(existsSync(path), 'kill -9 left the lock file');
    const lock = new UpdateLock({ path, logger, waitTimeoutMs: 200 });
    await assert.rejects(
      lock.withLock('before clearing', async () => 1),
      isLockBusyError,
    );
    lock.clearStale();
    assert.equal(existsSync(path), false);
    assert.equal(await lock.withLock('plc conveyor-1 cmd c-1', async () => 1), 1);
  },
);

test(
  'a lock of ours with our pid but another instance (container restart) is stale',
  { timeout: 5_000 },
  async (t) => {
    const path = lockPath(t);
    const previous = new UpdateLock({ path, logger });
    let release: (() => void) | undefined;
    void previous.withLock('ota switch', () => new Promise<void>((r) => (release = r)));
    await waitFor(() => release !== undefined, 5_000, 'the previous instance holding the lock');
    assert.ok(existsSync(path));
    const next = new UpdateLock({ path, logger });
    next.clearStale();
    assert.equal(existsSync(path), false);
    release!();
  },
);

test('disabled: a no-op lock that still tracks holders', { timeout: 5_000 }, async (t) => {
  const path = lockPath(t);
  const lock = new UpdateLock({ path, logger, enabled: false });
  const v = await lock.withLock('backup', async () => {
    assert.deepEqual(lock.held(), ['backup']);
    return existsSync(path);
  });
  assert.equal(v, false);
});

test('path comes from BALENA_APP_LOCK_PATH', () => {
  const lock = new UpdateLock({ logger, env: { BALENA_APP_LOCK_PATH: '/tmp/x/updates.lock' } });
  assert.equal(lock.path, '/tmp/x/updates.lock');
  assert.equal(new UpdateLock({ logger, env: {} }).path, '/tmp/balena/updates.lock');
});

test(
  'a lock path that cannot be created is a typed error, not a crash',
  { timeout: 5_000 },
  async (t) => {
    const dir = tmpDir('lock-');
    t.after(dir.cleanup);
    writeFileSync(join(dir.path, 'file'), '');
    const lock = new UpdateLock({ path: join(dir.path, 'file', 'updates.lock'), logger });
    let ran = false;
    await assert.rejects(
      lock.withLock('plc conveyor-1 cmd c-2', async () => {
        ran = true;
      }),
      isUpdateLockError,
    );
    assert.equal(ran, false);
  },
);
