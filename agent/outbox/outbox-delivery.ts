// The outbox as the publisher sees it: what to publish next, the broker's PUBACKs, and in wms-ack mode
// the WMS's cumulative acks and the resend of what it has not confirmed. The store (outbox.ts) owns the
// files and the acknowledged position; this decides, per delivery mode, when an entry is done.
import type { DeliveryWindow, OutboxEntry } from './delivery-window.js';
import type { Delivery } from './outbox-types.js';
import type { WmsAckOutcome, WmsLedger } from './wms-ledger.js';

export interface DeliveryStore {
  window(): DeliveryWindow;
  ledger: WmsLedger;
  mode(): Delivery;
  opened(): boolean;
  /** The key has had a message (an ack for a key that never had one is refused). */
  knows(key: string): boolean;
  unackedMessages(): number;
  /** Entries that left the window as the acknowledged prefix. */
  release(done: readonly OutboxEntry[]): void;
  /** The checkpoint has something new to persist. */
  changed(): void;
}

export class OutboxDelivery {
  constructor(private readonly s: DeliveryStore) {}

  take(max: number): OutboxEntry[] {
    const w = this.s.window();
    const out = w.take(max);
    for (const e of out) this.s.ledger.noteSent(e.key, e.seq);
    // Entries read from disk that the WMS had confirmed before a restart are skipped by take(): release them.
    this.s.release(w.popAcked());
    return out;
  }

  ack(entry: OutboxEntry): void {
    const w = this.s.window();
    if (this.s.mode() === 'wms-ack') {
      if (this.s.ledger.covers(entry.key, entry.seq))
        this.s.release(w.ackWhere((e) => e === entry));
      else w.published(entry, Date.now());
      return;
    }
    this.s.release(w.ack(entry));
  }

  wmsAck(key: string, seq: number): WmsAckOutcome {
    if (this.s.mode() !== 'wms-ack') return { kind: 'not-wms-ack-mode' };
    const refused = this.s.ledger.accept(key, seq, this.s.knows(key));
    if (refused) return refused;
    this.s.changed();
    const before = this.s.unackedMessages();
    this.s.release(this.s.window().ackWhere((e) => e.key === key && e.seq <= seq));
    return { kind: 'applied', released: before - this.s.unackedMessages() };
  }

  resendUnconfirmed(timeoutMs: number, nowMs: number): number {
    if (this.s.mode() !== 'wms-ack' || !this.s.opened()) return 0;
    const w = this.s.window();
    const oldest = w.oldestPublished();
    if (!oldest || nowMs - (oldest.publishedAtMs ?? 0) < timeoutMs) return 0;
    return w.resendPublished();
  }

  /** The mode became `to`: to broker, whatever the broker already took is done. */
  switched(to: Delivery): void {
    if (to === 'broker' && this.s.opened())
      this.s.release(this.s.window().ackWhere((e) => e.state === 'published'));
  }
}
