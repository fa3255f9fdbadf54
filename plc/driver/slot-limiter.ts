// At most n jobs at once, urgent ones (commands) first in line: the transactions in flight on one
// Modbus TCP connection, whichever unit ids they are for.
import type { Priority } from './serial-queue.js';

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class SlotLimiter {
  private busy = 0;
  private readonly urgent: Waiter[] = [];
  private readonly normal: Waiter[] = [];
  /** Highest number of slots taken at once (tests, stats). */
  maxBusy = 0;

  constructor(readonly size: number) {}

  get waiting(): number {
    return this.urgent.length + this.normal.length;
  }

  acquire(priority: Priority = 'normal'): Promise<void> {
    if (this.busy < this.size) {
      this.take();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) =>
      (priority === 'urgent' ? this.urgent : this.normal).push({ resolve, reject }),
    );
  }

  release(): void {
    this.busy--;
    const next = this.urgent.shift() ?? this.normal.shift();
    if (next) {
      this.take();
      next.resolve();
    }
  }

  /** Reject every waiter (the link is gone for good). */
  clear(error: unknown): void {
    for (const w of this.urgent.splice(0)) w.reject(error);
    for (const w of this.normal.splice(0)) w.reject(error);
  }

  private take(): void {
    this.busy++;
    if (this.busy > this.maxBusy) this.maxBusy = this.busy;
  }
}
