// balena's update lock: while the file named by BALENA_APP_LOCK_PATH exists, the supervisor does
// not kill or restart this service for an update. We hold it while a PLC command, an OTA switch or
// a backup is in flight. Created with O_EXCL as balena's lockfile does, ref-counted so overlapping
// holders share one file, and stamped with who we are so a lock of ours left by a crashed previous
// instance can be told from someone else's (which we wait for, never remove).
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
  fsyncSync,
} from 'node:fs';
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import type { Logger } from '../../platform/logger.js';

export const DEFAULT_LOCK_PATH = '/tmp/balena/updates.lock';
export const LOCK_OWNER = 'wms-gateway';

export const LOCK_DEFAULTS = {
  /** How long a holder waits for someone else's lock before LockBusyError. */
  waitTimeoutMs: 10_000,
  /** How often the file is tried again while someone else holds it. */
  pollMs: 100,
} as const;

/** Someone else holds the update lock (the supervisor updating, another tool) past our wait. */
export class LockBusyError extends Error {
  override name = 'LockBusyError';
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly waitedMs: number,
  ) {
    super(`update lock ${path} held by someone else; gave up after ${waitedMs} ms (for ${reason})`);
  }
}
export const isLockBusyError = (e: unknown): e is LockBusyError => e instanceof LockBusyError;

/** The lock file could not be created or read for another reason (permissions, read-only fs). */
export class UpdateLockError extends Error {
  override name = 'UpdateLockError';
  constructor(
    readonly path: string,
    readonly code: string,
  ) {
    super(`update lock ${path}: ${code}`);
  }
}
export const isUpdateLockError = (e: unknown): e is UpdateLockError => e instanceof UpdateLockError;

interface LockStamp {
  owner: string;
  pid: number;
  instance: string;
  since: string;
}

export interface UpdateLockOptions {
  /** Default: BALENA_APP_LOCK_PATH from env, else /tmp/balena/updates.lock. */
  path?: string | undefined;
  logger: Logger;
  /** false: a no-op lock (bookkeeping only), for runs where nothing would honour the file. */
  enabled?: boolean;
  waitTimeoutMs?: number;
  pollMs?: number;
  env?: Record<string, string | undefined>;
}

export class UpdateLock {
  readonly path: string;
  readonly instance = randomUUID();
  private readonly log: Logger;
  private readonly enabled: boolean;
  private readonly waitTimeoutMs: number;
  private readonly pollMs: number;
  private readonly holders = new Map<number, string>();
  private seq = 0;
  private fileHeld = false;
  private acquiring: Promise<void> | null = null;

  constructor(opts: UpdateLockOptions) {
    const env = opts.env ?? process.env;
    this.path = opts.path ?? env.BALENA_APP_LOCK_PATH ?? DEFAULT_LOCK_PATH;
    this.log = opts.logger;
    this.enabled = opts.enabled ?? true;
    this.waitTimeoutMs = opts.waitTimeoutMs ?? LOCK_DEFAULTS.waitTimeoutMs;
    this.pollMs = opts.pollMs ?? LOCK_DEFAULTS.pollMs;
  }

  /** Run fn while holding the lock; overlapping calls share it; released when the last one ends. */
  async withLock<T>(reason: string, fn: () => Promise<T>): Promise<T> {
    const id = ++this.seq;
    if (this.enabled) {
      while (!this.fileHeld) {
        this.acquiring ??= this.acquire(reason).finally(() => {
          this.acquiring = null;
        });
        await this.acquiring;
      }
    }
    this.holders.set(id, reason);
    try {
      return await fn();
    } finally {
      this.holders.delete(id);
      if (this.holders.size === 0 && this.fileHeld) this.release();
    }
  }

  /** Reasons currently holding the lock (e.g. ['plc conveyor-1 cmd 42', 'ota switch']). */
  held(): string[] {
    return [...this.holders.values()];
  }

  /** At start: remove a lock file of ours left by a previous (crashed) instance; leave others' alone. */
  clearStale(): void {
    if (!this.enabled || this.fileHeld) return;
    const stamp = this.readStamp();
    if (!stamp || stamp.owner !== LOCK_OWNER || stamp.instance === this.instance) return;
    // In a container the agent is often pid 1 again after a restart, hence the instance id.
    const stale = stamp.pid === process.pid || !processAlive(stamp.pid);
    if (!stale) return;
    try {
      unlinkSync(this.path);
      this.log.warn(
        { lock: this.path, pid: stamp.pid, since: stamp.since },
        'stale update lock of a previous instance removed',
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  private async acquire(reason: string): Promise<void> {
    const started = Date.now();
    try {
      mkdirSync(dirname(this.path), { recursive: true });
    } catch (e) {
      throw new UpdateLockError(this.path, (e as NodeJS.ErrnoException).code ?? String(e));
    }
    let logged = false;
    for (;;) {
      try {
        const fd = openSync(this.path, 'wx', 0o644);
        try {
          const stamp: LockStamp = {
            owner: LOCK_OWNER,
            pid: process.pid,
            instance: this.instance,
            since: new Date().toISOString(),
          };
          writeSync(fd, JSON.stringify(stamp) + '\n');
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        this.fileHeld = true;
        this.log.debug({ lock: this.path, reason }, 'update lock taken');
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw new UpdateLockError(this.path, code ?? String(e));
      }
      const waited = Date.now() - started;
      if (waited >= this.waitTimeoutMs) throw new LockBusyError(this.path, reason, waited);
      if (!logged) {
        this.log.info({ lock: this.path, reason }, 'update lock held by someone else; waiting');
        logged = true;
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  private release(): void {
    this.fileHeld = false;
    // Only remove the file if it is still ours (someone may have forced it away and taken it).
    if (this.readStamp()?.instance !== this.instance) return;
    try {
      unlinkSync(this.path);
      this.log.debug({ lock: this.path }, 'update lock released');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log.error({ lock: this.path, err: String(e) }, 'update lock could not be removed');
    }
  }

  private readStamp(): LockStamp | null {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch {
      return null;
    }
    try {
      const v = JSON.parse(text) as Partial<LockStamp>;
      if (
        typeof v.owner === 'string' &&
        typeof v.pid === 'number' &&
        typeof v.instance === 'string'
      )
        return { owner: v.owner, pid: v.pid, instance: v.instance, since: String(v.since ?? '') };
    } catch {
      // Not ours: balena's lockfile and other tools write nothing or plain text.
    }
    return null;
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
