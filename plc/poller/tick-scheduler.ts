// Drift-free periodic ticks: the first at once, tick n ≥ 1 due at start + phase + n*interval (monotonic
// clock). A tick that comes late, or finds the previous cycle still busy, is skipped and counted — work
// never piles up. The phase keeps pollers that start together (every PLC connecting at boot) from
// ticking together for ever: their readings would reach the north side in one burst each interval.
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

  /** The first tick is due now; the later ones on the grid shifted by phaseMs (0 ≤ phaseMs < interval). */
  begin(phaseMs = 0): void {
    this.running = true;
    this.start = performance.now() + phaseMs;
    this.n = 0;
    this.timer = setTimeout(() => this.fire(), 0);
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

/** Phases are spread over at most this much: a slow group's first ticks are not put off long. */
const MAX_PHASE_MS = 1000;

/** The phase at this fraction (0 ≤ fraction < 1) of min(interval, 1 s). */
export function spreadPhase(fraction: number, intervalMs: number): number {
  return fraction * Math.min(intervalMs, MAX_PHASE_MS);
}

/**
 * A group's phase when its place among the PLCs is not known: the same for the same key (PLC id and
 * group) on every start, spread uniformly over min(interval, 1 s) across keys (FNV-1a of the key).
 */
export function tickPhase(key: string, intervalMs: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return spreadPhase(h / 2 ** 32, intervalMs);
}
