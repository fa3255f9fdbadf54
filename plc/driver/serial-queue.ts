// One job at a time, urgent jobs (commands) ahead of normal ones (polls). Used per PLC and per RTU bus.
export type Priority = 'urgent' | 'normal';

interface Job {
  run: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class SerialQueue {
  private readonly urgent: Job[] = [];
  private readonly normal: Job[] = [];
  private busy = false;

  /** Jobs waiting (not counting the one running). */
  get waiting(): number {
    return this.urgent.length + this.normal.length;
  }

  get running(): boolean {
    return this.busy;
  }

  run<T>(fn: () => Promise<T>, priority: Priority = 'normal'): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const job: Job = { run: fn, resolve: resolve as (v: unknown) => void, reject };
      (priority === 'urgent' ? this.urgent : this.normal).push(job);
      if (!this.busy) void this.drain();
    });
  }

  /** Reject every waiting job (the running one finishes on its own). */
  clear(error: unknown): void {
    for (const j of this.urgent.splice(0)) j.reject(error);
    for (const j of this.normal.splice(0)) j.reject(error);
  }

  private async drain(): Promise<void> {
    this.busy = true;
    for (;;) {
      const job = this.urgent.shift() ?? this.normal.shift();
      if (!job) break;
      try {
        job.resolve(await job.run());
      } catch (e) {
        job.reject(e);
      }
    }
    this.busy = false;
  }
}
