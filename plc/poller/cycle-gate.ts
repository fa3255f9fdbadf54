// How many poll cycles of one PLC run at once. On a pipelined TCP connection (tcpPipeline > 1) the
// groups' cycles overlap, up to the pipeline depth, while the unit answers; a unit that has not
// answered yet or went silent gets one cycle at a time, so it can hold at most one of the
// connection's transaction slots while its requests time out (the other units keep their cadence).
interface Waiter {
  start: () => void;
  reject: (e: unknown) => void;
}

export class CycleGate {
  private active = 0;
  private readonly waiters: Waiter[] = [];
  private idleWaiters: (() => void)[] = [];
  private current: number;

  constructor(limit: number) {
    this.current = Math.max(1, limit);
  }

  get limit(): number {
    return this.current;
  }

  /** Change how many cycles may run at once; waiting ones start if there is room now. */
  set limit(n: number) {
    this.current = Math.max(1, n);
    this.pump();
  }

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Run `fn` once there is room (first come, first served). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.active++;
        let p: Promise<T>;
        try {
          p = fn();
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then(resolve, reject).finally(() => {
          this.active--;
          this.pump();
          if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
      };
      if (this.active < this.current) start();
      else this.waiters.push({ start, reject });
    });
  }

  /** Reject every waiting cycle (the poller stops); running ones finish on their own. */
  clear(error: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  /** Resolves once no cycle runs. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private pump(): void {
    while (this.active < this.current) {
      const next = this.waiters.shift();
      if (!next) return;
      next.start();
    }
  }
}
