// The part of the outbox between "acknowledged" and "not read yet": records read ahead from disk (bounded
// by readAheadBytes, so RAM stays flat whatever the backlog), which of them are in flight, and the
// contiguous acknowledged prefix. Order is the append order, so order per PLC is kept.
// With end-to-end delivery (wms.delivery: wms-ack) a PUBACK only makes an entry 'published': it stays
// here (so the read-ahead bound is also the bound on what the WMS has not confirmed) until the WMS's
// cumulative ack for its PLC marks it 'acked'.
import { segmentPath, SegmentReader } from './segment-files.js';

export interface OutboxEntry {
  key: string;
  seq: number;
  flags: number;
  payload: Buffer;
  appendedAtMs: number;
  segment: number;
  offset: number;
  end: number;
  state: 'ready' | 'sent' | 'published' | 'acked' | 'dropped';
  /** When it was last handed to the broker's PUBACK (wms-ack mode: the start of its ack timeout). */
  publishedAtMs?: number;
}

interface SegmentInfo {
  id: number;
  size: number;
}

export interface DeliveryWindowOptions {
  dir: string;
  maxBodyBytes: number;
  readAheadBytes: number;
  /** The outbox's live segment list, oldest first; the last one is being appended to. */
  segments: () => readonly SegmentInfo[];
  start: { segment: number; offset: number };
  /** Entries already confirmed (by the WMS, before a restart) are read as acknowledged, never re-sent. */
  isAcked?: (key: string, seq: number) => boolean;
}

export class DeliveryWindow {
  private entries: OutboxEntry[] = [];
  /** entries[0..cursor) were handed out (sent or acked) since the last rewind. */
  private cursor = 0;
  private bytes = 0;
  sent = 0;
  private readPos: { segment: number; offset: number };
  private reader: SegmentReader | undefined;
  private readerSegment = -1;

  constructor(private readonly opts: DeliveryWindowOptions) {
    this.readPos = { ...opts.start };
  }

  private fill(): void {
    while (this.bytes < this.opts.readAheadBytes) {
      const e = this.readNext();
      if (!e) return;
      this.entries.push(e);
      this.bytes += e.end - e.offset;
    }
  }

  private readNext(): OutboxEntry | undefined {
    for (;;) {
      const segs = this.opts.segments();
      const idx = segs.findIndex((s) => s.id >= this.readPos.segment);
      const seg = segs[idx];
      if (!seg) return undefined;
      if (seg.id !== this.readPos.segment) this.readPos = { segment: seg.id, offset: 0 };
      if (this.readerSegment !== seg.id) {
        this.closeReader();
        this.reader = new SegmentReader(
          segmentPath(this.opts.dir, seg.id),
          this.readPos.offset,
          seg.size,
          this.opts.maxBodyBytes,
        );
        this.readerSegment = seg.id;
      }
      const reader = this.reader!;
      reader.limit = seg.size;
      const step = reader.next();
      if (step.kind === 'record') {
        this.readPos.offset = step.end;
        const r = step.record;
        const acked = this.opts.isAcked?.(r.key, r.seq) ?? false;
        return {
          key: r.key,
          seq: r.seq,
          flags: r.flags,
          payload: r.payload,
          appendedAtMs: r.appendedAtMs,
          segment: seg.id,
          offset: step.offset,
          end: step.end,
          state: acked ? 'acked' : 'ready',
        };
      }
      if (step.kind === 'gap') continue; // damaged bytes skipped (logged when the outbox opened)
      // 'end', or 'corrupt' (only possible if the file changed under us): go on with the next segment.
      const next = segs[idx + 1];
      if (!next) return undefined;
      this.closeReader();
      this.readPos = { segment: next.id, offset: 0 };
    }
  }

  private closeReader(): void {
    this.reader?.close();
    this.reader = undefined;
    this.readerSegment = -1;
  }

  take(max: number): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    this.fill();
    while (out.length < max) {
      if (this.cursor >= this.entries.length) {
        this.fill();
        if (this.cursor >= this.entries.length) break;
      }
      const e = this.entries[this.cursor++]!;
      if (e.state !== 'ready') continue;
      e.state = 'sent';
      this.sent++;
      out.push(e);
    }
    return out;
  }

  /** Mark entry acknowledged; returns the entries that left the window as the acknowledged prefix grew. */
  ack(entry: OutboxEntry): OutboxEntry[] {
    if (entry.state !== 'sent') return [];
    entry.state = 'acked';
    this.sent--;
    return this.popAcked();
  }

  /** The broker took entry (PUBACK) but the WMS has not confirmed it yet: keep it, out of the in-flight count. */
  published(entry: OutboxEntry, nowMs: number): boolean {
    if (entry.state !== 'sent') return false;
    entry.state = 'published';
    entry.publishedAtMs = nowMs;
    this.sent--;
    return true;
  }

  /** Mark every entry in the window for which match() holds acknowledged (whatever its state). */
  ackWhere(match: (e: OutboxEntry) => boolean): OutboxEntry[] {
    for (const e of this.entries) {
      if (e.state === 'acked' || e.state === 'dropped' || !match(e)) continue;
      if (e.state === 'sent') this.sent--;
      e.state = 'acked';
    }
    return this.popAcked();
  }

  /** The acknowledged prefix: entries that leave the window (their disk position may be released). */
  popAcked(): OutboxEntry[] {
    const done: OutboxEntry[] = [];
    while (this.entries[0]?.state === 'acked') {
      const e = this.entries.shift()!;
      this.bytes -= e.end - e.offset;
      if (this.cursor > 0) this.cursor--;
      done.push(e);
    }
    return done;
  }

  rewind(): void {
    for (const e of this.entries)
      if (e.state === 'sent' || e.state === 'published') e.state = 'ready';
    this.sent = 0;
    this.cursor = 0;
  }

  /** Every published entry the WMS has not confirmed goes again, from the oldest, in order (go-back-N). */
  resendPublished(): number {
    let n = 0;
    for (const e of this.entries)
      if (e.state === 'published') {
        e.state = 'ready';
        n++;
      }
    if (n > 0) this.cursor = 0;
    return n;
  }

  /** The oldest entry the broker took but the WMS has not confirmed. */
  oldestPublished(): OutboxEntry | undefined {
    return this.entries.find((e) => e.state === 'published');
  }

  /** Segment segId (and older) was dropped: forget its entries, continue reading at nextId. */
  dropThrough(segId: number, nextId: number): void {
    while (this.entries.length > 0 && this.entries[0]!.segment <= segId) {
      const e = this.entries.shift()!;
      if (e.state === 'sent') this.sent--;
      e.state = 'dropped';
      this.bytes -= e.end - e.offset;
      if (this.cursor > 0) this.cursor--;
    }
    if (this.readPos.segment <= segId) {
      this.closeReader();
      this.readPos = { segment: nextId, offset: 0 };
    }
  }

  peekOldest(): OutboxEntry | undefined {
    this.fill();
    return this.entries[0];
  }

  close(): void {
    this.closeReader();
  }
}
