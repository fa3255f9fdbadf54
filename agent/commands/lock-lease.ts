// Holds the balena update lock across a burst of writes instead of taking it per write: taking it
// means creating, fsyncing and removing a file (~5 ms, far more on a busy disk), which would dominate
// the latency of every command. The lease is released once no write has run for `lingerMs`.
import type { UpdateLock } from './command-ports.js';

interface Lease {
  acquired: Promise<void>;
  release: () => void;
  users: number;
  timer?: NodeJS.Timeout;
}

export class LockLease {
  private lease: Lease | undefined;

  constructor(
    private readonly lock: UpdateLock,
    private readonly lingerMs: number,
  ) {}

  /** Run fn while the update lock is held. Rejects (without running fn) if the lock cannot be taken. */
  async run<T>(reason: string, fn: () => Promise<T>): Promise<T> {
    const lease = (this.lease ??= this.take(reason));
    lease.users++;
    clearTimeout(lease.timer);
    try {
      await lease.acquired;
      return await fn();
    } finally {
      if (--lease.users === 0 && this.lease === lease) {
        lease.timer = setTimeout(() => this.end(lease), this.lingerMs);
        lease.timer.unref();
      }
    }
  }

  /** Release now if no write is running (shutdown). */
  close(): void {
    if (this.lease?.users === 0) this.end(this.lease);
  }

  private take(reason: string): Lease {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const lease: Lease = { acquired: Promise.resolve(), release, users: 0 };
    lease.acquired = new Promise<void>((resolve, reject) => {
      this.lock
        .withLock(`${reason} (and the commands right after it)`, () => {
          resolve();
          return held;
        })
        .catch((e: unknown) => {
          if (this.lease === lease) this.lease = undefined;
          reject(e);
        });
    });
    lease.acquired.catch(() => undefined); // each user awaits it
    return lease;
  }

  private end(lease: Lease): void {
    clearTimeout(lease.timer);
    if (this.lease === lease) this.lease = undefined;
    lease.release();
  }
}
