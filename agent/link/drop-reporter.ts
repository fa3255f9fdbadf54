// Outbox drops are never silent, but a full outbox under reject-new drops every new message: report the
// first drop at once, then one summary per interval, so operators get a line and an alert, not a flood.
import type { DropEvent } from '../outbox/outbox.js';

/** At most one drop summary (log line + alert) per this interval after the first one. */
export const DROP_REPORT_INTERVAL_MS = 10_000;

export interface DropSummary {
  reason: DropEvent['reason'];
  messages: number;
  bytes: number;
  keys: string[];
}

export class DropReporter {
  private pending = new Map<DropEvent['reason'], DropSummary>();
  private timer: NodeJS.Timeout | undefined;
  private lastReport = 0;

  constructor(
    private readonly report: (s: DropSummary) => void,
    private readonly intervalMs = DROP_REPORT_INTERVAL_MS,
  ) {}

  add(ev: DropEvent): void {
    const s = this.pending.get(ev.reason) ?? {
      reason: ev.reason,
      messages: 0,
      bytes: 0,
      keys: [] as string[],
    };
    s.messages += ev.messages;
    s.bytes += ev.bytes;
    if (ev.key && !s.keys.includes(ev.key) && s.keys.length < 20) s.keys.push(ev.key);
    this.pending.set(ev.reason, s);
    const now = Date.now();
    if (now - this.lastReport >= this.intervalMs) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs - (now - this.lastReport));
      this.timer.unref();
    }
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    this.lastReport = Date.now();
    for (const s of this.pending.values()) this.report(s);
    this.pending.clear();
  }
}

export function describeDrops(s: DropSummary, droppedTotal: number): string {
  const what =
    s.reason === 'drop-oldest'
      ? 'outbox full: oldest messages dropped'
      : s.reason === 'reject-new'
        ? 'outbox full: new messages rejected'
        : s.reason === 'too-large'
          ? 'message larger than an outbox segment dropped'
          : s.reason === 'disk-full'
            ? 'file system full: new messages dropped'
            : s.reason === 'write-error'
              ? 'outbox write failed: new messages dropped'
              : 'corrupt outbox data dropped';
  return `${what}: ${s.messages} messages (${s.bytes} bytes); ${droppedTotal} dropped in total`;
}
