// Drift-free periodic ticks: tick n is due at start + n*interval (monotonic clock). A tick that comes
// late, or finds the previous cycle still busy, is skipped and counted — work never piles up.
export interface TickSchedulerOptions {
  intervalMs: number;
  /** Called on a due tick; return false when the previous cycle is still busy (counted as an overrun). */
  onTick: () => boolean;
  /** Ticks skipped (late timer or busy cycle). */
  onOverrun: (skipped: number) => void;
}

export class TickScheduler {
  private timer: NodeJS.Timeout | undefined;
  private start = 0;
  private n = 0;
  private running = false;

  constructor(private readonly opts: TickSchedulerOptions) {}

  /** The first tick is due now. */
  begin(): void {
    this.running = true;
    this.start = performance.now();
    this.n = 0;
    this.arm();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const due = this.start + this.n * this.opts.intervalMs;
    this.timer = setTimeout(() => this.fire(), Math.max(0, due - performance.now()));
  }

  private fire(): void {
    if (!this.running) return;
    const { intervalMs } = this.opts;
    // If the timer fired so late that later ticks are already due, skip to the latest due one.
    const latest = Math.floor((performance.now() - this.start) / intervalMs);
    if (latest > this.n) {
      this.opts.onOverrun(latest - this.n);
      this.n = latest;
    }
    if (!this.opts.onTick()) this.opts.onOverrun(1);
    this.n++;
    this.arm();
  }
}
