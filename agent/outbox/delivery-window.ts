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

/** Consumed slots at the front of `entries` are cut off once there are this many (and half of it). */
const COMPACT_AT = 1024;
const NONE: readonly OutboxEntry[] = Object.freeze([]);

export class DeliveryWindow {
  /**
   * The window is entries[head..]: the front advances by index as the acknowledged prefix grows
   * (Array.shift per acknowledged message costs a copy of the whole read-ahead when it is large).
   */
  private entries: OutboxEntry[] = [];
  private head = 0;
  /** entries[head..cursor) were handed out (sent or acked) since the last rewind. */
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
      // The usual case: more records of the segment being read.
      if (this.reader && this.readerSegment === this.readPos.segment) {
        const e = this.readRecord(this.reader);
        if (e) return e;
      }
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
      const e = this.readRecord(reader);
      if (e) return e;
      if (this.lastStep === 'gap') continue; // damaged bytes skipped (logged when the outbox opened)
      // 'end', or 'corrupt' (only possible if the file changed under us): go on with the next segment.
      const next = segs[idx + 1];
      if (!next) return undefined;
      this.closeReader();
      this.readPos = { segment: next.id, offset: 0 };
    }
  }

  private lastStep: 'record' | 'end' | 'gap' | 'corrupt' = 'end';

  /** The next record of the open segment as an entry, or undefined (lastStep says why). */
  private readRecord(reader: SegmentReader): OutboxEntry | undefined {
    const step = reader.next();
    this.lastStep = step.kind;
    if (step.kind !== 'record') return undefined;
    this.readPos.offset = step.end;
    const r = step.record;
    const acked = this.opts.isAcked?.(r.key, r.seq) ?? false;
    return {
      key: r.key,
      seq: r.seq,
      flags: r.flags,
      payload: r.payload,
      appendedAtMs: r.appendedAtMs,
      segment: this.readerSegment,
      offset: step.offset,
      end: step.end,
      state: acked ? 'acked' : 'ready',
    };
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
  ack(entry: OutboxEntry): readonly OutboxEntry[] {
    if (entry.state !== 'sent') return NONE;
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
  ackWhere(match: (e: OutboxEntry) => boolean): readonly OutboxEntry[] {
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.state === 'acked' || e.state === 'dropped' || !match(e)) continue;
      if (e.state === 'sent') this.sent--;
      e.state = 'acked';
    }
    return this.popAcked();
  }

  /** The acknowledged prefix: entries that leave the window (their disk position may be released). */
  popAcked(): readonly OutboxEntry[] {
    if (this.entries[this.head]?.state !== 'acked') return NONE;
    const done: OutboxEntry[] = [];
    do {
      const e = this.entries[this.head++]!;
      this.bytes -= e.end - e.offset;
      done.push(e);
    } while (this.entries[this.head]?.state === 'acked');
    this.advanced();
    return done;
  }

  /** The front moved: keep the cursor inside the window, cut consumed slots off now and then. */
  private advanced(): void {
    if (this.cursor < this.head) this.cursor = this.head;
    if (this.head >= COMPACT_AT && this.head * 2 >= this.entries.length) {
      this.entries.splice(0, this.head);
      this.cursor -= this.head;
      this.head = 0;
    }
  }

  rewind(): void {
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.state === 'sent' || e.state === 'published') e.state = 'ready';
    }
    this.sent = 0;
    this.cursor = this.head;
  }

  /** Every published entry the WMS has not confirmed goes again, from the oldest, in order (go-back-N). */
  resendPublished(): number {
    let n = 0;
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.state === 'published') {
        e.state = 'ready';
        n++;
      }
    }
    if (n > 0) this.cursor = this.head;
    return n;
  }

  /** The oldest entry the broker took but the WMS has not confirmed. */
  oldestPublished(): OutboxEntry | undefined {
    for (let i = this.head; i < this.entries.length; i++)
      if (this.entries[i]!.state === 'published') return this.entries[i];
    return undefined;
  }

  /** Segment segId (and older) was dropped: forget its entries, continue reading at nextId. */
  dropThrough(segId: number, nextId: number): void {
    while (this.head < this.entries.length && this.entries[this.head]!.segment <= segId) {
      const e = this.entries[this.head++]!;
      if (e.state === 'sent') this.sent--;
      e.state = 'dropped';
      this.bytes -= e.end - e.offset;
    }
    this.advanced();
    if (this.readPos.segment <= segId) {
      this.closeReader();
      this.readPos = { segment: nextId, offset: 0 };
    }
  }

  peekOldest(): OutboxEntry | undefined {
    this.fill();
    return this.entries[this.head];
  }

  close(): void {
    this.closeReader();
  }
}
