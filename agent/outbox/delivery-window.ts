// The part of the outbox between "acknowledged" and "not read yet": records read ahead from disk (bounded
// by readAheadBytes, so RAM stays flat whatever the backlog), which of them are in flight, and the
// contiguous acknowledged prefix. Order is the append order, so order per PLC is kept.
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
  state: 'ready' | 'sent' | 'acked' | 'dropped';
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
        return {
          key: r.key,
          seq: r.seq,
          flags: r.flags,
          payload: r.payload,
          appendedAtMs: r.appendedAtMs,
          segment: seg.id,
          offset: step.offset,
          end: step.end,
          state: 'ready',
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
    for (const e of this.entries) if (e.state === 'sent') e.state = 'ready';
    this.sent = 0;
    this.cursor = 0;
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
