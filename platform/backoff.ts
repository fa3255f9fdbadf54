// The one backoff of the project: capped exponential with "equal jitter" (half the delay fixed, half
// random), so a fleet of gateways that lost the same broker, PLC or API does not retry in lockstep.
// Our own 30 lines rather than a library: the retry libraries on npm wrap a promise-returning call,
// and our callers (reconnect timers, pollers, watchdog, HTTP retries) only need the next delay.

/** Delay before retry number `attempt` (0-based): attempt 0 → [min/2, min], doubling up to max. */
export function backoffDelay(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  return d / 2 + random() * (d / 2);
}

/** The same with its attempt counter kept: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  private attempt = 0;

  constructor(
    public minMs: number,
    public maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    return Math.round(backoffDelay(this.attempt++, this.minMs, this.maxMs, this.random));
  }

  reset(): void {
    this.attempt = 0;
  }
}
