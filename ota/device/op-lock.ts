// One writer of the OTA state at a time across processes (agent, launcher, `wms-gateway ota` CLI):
// an O_EXCL lock file naming its owner as pid + the process's start time + the kernel boot id. A pid
// alone is not an identity: pids repeat across container starts (the agent is often pid 7 in every
// container), so a lock left by a previous container would look alive forever. The start time (from
// /proc/<pid>/stat) tells a reused pid from the owner; the boot id catches a reboot.
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

/** Start time of a process in clock ticks since boot (Linux), or '' where /proc is not there. */
export function processStartTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name (field 2) may hold spaces, so count after its ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

let bootIdCache: string | undefined;
export function bootId(): string {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootIdCache = '';
    }
  }
  return bootIdCache;
}

/** The lock line of this process: `<pid> <start time> <boot id> <owner>`. */
export function lockLine(owner: string, pid = process.pid): string {
  return `${pid} ${processStartTime(pid) || '-'} ${bootId() || '-'} ${owner}\n`;
}

/** The pid holding the lock, if that very process (same start time, same boot) is alive. */
export function lockHolder(file: string): number | undefined {
  let parts: string[];
  try {
    parts = readFileSync(file, 'utf8').trim().split(' ');
  } catch {
    return undefined;
  }
  const pid = Number(parts[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const [, start, boot] = parts;
  if (boot && boot !== '-' && bootId() && boot !== bootId()) return undefined;
  const now = processStartTime(pid);
  // An older lock file without a start time is judged by pid alone.
  if (start && start !== '-' && /^\d+$/.test(start) && now && now !== start) return undefined;
  return pid;
}

function tryAcquire(file: string, owner: string): boolean {
  mkdirSync(dirname(file), { recursive: true });
  try {
    const fd = openSync(file, 'wx', 0o644);
    writeSync(fd, lockLine(owner));
    closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const holder = lockHolder(file);
    if (holder === process.pid) return false;
    if (holder === undefined) {
      rmSync(file, { force: true }); // stale: its owner died, or belonged to another container/boot
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
