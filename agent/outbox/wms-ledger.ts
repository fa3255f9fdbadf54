// wms-ack delivery's bookkeeping: per key, the highest seq the WMS confirmed (cumulative, persisted in the
// checkpoint so a restart does not send it again) and the highest seq handed to the broker in this run
// (an ack beyond it names data the WMS cannot have: forged or confused, and refused).
export type WmsAckOutcome =
  | { kind: 'applied'; released: number }
  | { kind: 'stale'; acked: number }
  | { kind: 'unknown-key' }
  | { kind: 'ahead'; sent: number }
  | { kind: 'not-wms-ack-mode' };

export class WmsLedger {
  private readonly acked = new Map<string, number>();
  private readonly sent = new Map<string, number>();

  load(acked: Record<string, number> | undefined): void {
    for (const [k, v] of Object.entries(acked ?? {})) this.acked.set(k, v);
  }

  ackedSeq(key: string): number {
    return this.acked.get(key) ?? 0;
  }

  covers(key: string, seq: number): boolean {
    return seq <= this.ackedSeq(key);
  }

  noteSent(key: string, seq: number): void {
    if (seq > (this.sent.get(key) ?? 0)) this.sent.set(key, seq);
  }

  /** Check an ack against what was sent; undefined = acceptable (and now recorded). */
  accept(key: string, seq: number, known: boolean): WmsAckOutcome | undefined {
    if (!known) return { kind: 'unknown-key' };
    const acked = this.ackedSeq(key);
    if (seq <= acked) return { kind: 'stale', acked };
    const sent = Math.max(this.sent.get(key) ?? 0, acked);
    if (seq > sent) return { kind: 'ahead', sent };
    this.acked.set(key, seq);
    return undefined;
  }

  /** For the checkpoint: absent when nothing was ever confirmed (broker mode). */
  toCheckpoint(): { acked?: Record<string, number> } {
    return this.acked.size > 0 ? { acked: Object.fromEntries(this.acked) } : {};
  }
}
