// Capped exponential backoff with "equal jitter": half the delay fixed, half random, so a fleet of
// gateways that lost the same broker does not reconnect in lockstep.
export class Backoff {
  private attempt = 0;

  constructor(
    public minMs: number,
    public maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(base / 2 + (this.random() * base) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
