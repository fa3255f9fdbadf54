// CONTRACT §10: readings the outbox cannot keep because of its bound (`wms.outbox.policy`) are a state,
// not only a count: alert `outbox-full` when it starts, `/health` failing while it lasts, `outbox-ok`
// when it ends. It lasts while the bound still costs readings: it ends only once no policy drop came for
// a quiet period AND deliveries have drained messages since the last drop. Without the second rule a
// drop-oldest outbox during a long outage (one segment dropped now and then, appends in between) would
// flap between failing and healthy although old readings keep being thrown away.
import type { DropEvent } from '../outbox/outbox-types.js';

/** What the health check, the heartbeat and /api/state show while the outbox is full. */
export interface OutboxFull {
  /** When the first policy drop of this episode happened (ISO 8601). */
  since: string;
  policy: 'drop-oldest' | 'reject-new';
  /** Messages dropped by the bound in this episode. */
  dropped: number;
}

/** How long no policy drop must come (with the backlog shrinking) before the state ends. */
export const OUTBOX_FULL_QUIET_MS = 10_000;

export class OutboxFullState {
  private current: OutboxFull | undefined;
  private lastDropAt = 0;
  private messagesAfterDrop = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      /** Messages waiting in the outbox now. */
      messages: () => number;
      started: (s: OutboxFull) => void;
      ended: (s: OutboxFull, lastDropAt: Date) => void;
      quietMs?: number;
      now?: () => number;
    },
  ) {}

  get state(): OutboxFull | undefined {
    return this.current;
  }

  /** Every drop the outbox reports; only the bound's policies start or extend the state. */
  onDrop(ev: DropEvent): void {
    if (ev.reason !== 'drop-oldest' && ev.reason !== 'reject-new') return;
    this.lastDropAt = this.now();
    this.messagesAfterDrop = this.o.messages();
    if (this.current) {
      this.current.dropped += ev.messages;
      return;
    }
    this.current = {
      since: new Date(this.lastDropAt).toISOString(),
      policy: ev.reason,
      dropped: ev.messages,
    };
    this.o.started({ ...this.current });
    this.timer = setInterval(() => this.check(), Math.max(50, this.quietMs() / 5));
    this.timer.unref();
  }

  /** End the state if the bound has stopped costing readings (called by its own timer). */
  check(): void {
    if (!this.current) return;
    if (this.now() - this.lastDropAt < this.quietMs()) return;
    if (this.o.messages() >= this.messagesAfterDrop) return;
    const ended = this.current;
    this.stop();
    this.o.ended(ended, new Date(this.lastDropAt));
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.current = undefined;
  }

  private quietMs(): number {
    return this.o.quietMs ?? OUTBOX_FULL_QUIET_MS;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }
}
