// One writer of the OTA state at a time across processes (agent, launcher, `wms-gateway ota` CLI):
// an O_EXCL lock file holding the owner's pid; a lock whose pid is dead (kill -9) is stale and taken over.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { OtaStateError } from '../errors.js';

/** How long a writer waits for the lock before giving up (ms); how often it retries. */
export const LOCK_WAIT_MS = 3000;
const LOCK_RETRY_MS = 50;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid holding the lock, if that process is alive. */
export function lockHolder(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').split(' ')[0]);
    return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function tryAcquire(file: string, owner: string): boolean {
  mkdirSync(dirname(file), { recursive: true });
  try {
    const fd = openSync(file, 'wx', 0o644);
    writeSync(fd, `${process.pid} ${owner}\n`);
    closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const holder = lockHolder(file);
    if (holder === process.pid) return false;
    if (holder === undefined) {
      rmSync(file, { force: true }); // stale: its owner died
      return tryAcquire(file, owner);
    }
    return false;
  }
}

export async function withOtaLock<T>(
  file: string,
  owner: string,
  fn: () => Promise<T> | T,
  waitMs = LOCK_WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + waitMs;
  while (!tryAcquire(file, owner)) {
    if (Date.now() >= deadline)
      throw new OtaStateError(`OTA is busy: process ${lockHolder(file) ?? '?'} holds ${file}`);
    await new Promise((r) => setTimeout(r, LOCK_RETRY_MS));
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}
