// The durable outbox: every data message is appended to an on-disk segment before it is published and
// forgotten only once the broker acknowledged it. Segments are append-only; a checkpoint records where
// the contiguous acknowledged prefix ends; fully acknowledged segments are deleted (compaction).
// Bounded by maxBytes with an explicit policy; every drop is reported through the 'dropped' event.
import { EventEmitter } from 'node:events';
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import type { Logger } from '../../platform/logger.js';
import { isCheckpointError, readCheckpoint, writeCheckpointSync } from './checkpoint.js';
import { fsyncDirSync } from '../../platform/atomic-file.js';
import { encodeRecord, HEADER_BYTES } from './record.js';
import { listSegments, segmentPath, SegmentReader } from './segment-files.js';
import { DeliveryWindow, type OutboxEntry } from './delivery-window.js';

export type { OutboxEntry } from './delivery-window.js';

export interface OutboxOptions {
  dir: string;
  maxBytes: number;
  policy: 'drop-oldest' | 'reject-new';
  segmentBytes: number;
  fsync: 'always' | 'batch';
  fsyncIntervalMs: number;
  checkpointIntervalMs: number;
  readAheadBytes: number;
  logger: Logger;
}

export interface DropEvent {
  reason: 'drop-oldest' | 'reject-new' | 'too-large' | 'corrupt';
  messages: number;
  bytes: number;
  /** For reject-new / too-large: the message's key (PLC id) and seq. */
  key?: string;
  seq?: number;
}

export interface OutboxStats {
  messages: number;
  bytes: number;
  dropped: number;
  diskBytes: number;
  oldestTs?: string;
}

interface Segment {
  id: number;
  size: number;
  count: number;
}

/** Largest record body a reader accepts: records written under a larger segmentBytes must stay readable. */
const MAX_RECORD_BYTES = 1024 ** 3;
/** Segments are at most this share of maxBytes, so drop-oldest never throws away more than a quarter. */
const MAX_SEGMENT_SHARE = 4;

export class Outbox extends EventEmitter {
  private segments: Segment[] = [];
  private fd = -1;
  private seqs = new Map<string, number>();
  private ackPos = { segment: 0, offset: 0 };
  /** Records of segment ackPos.segment that lie before ackPos.offset. */
  private ackedInAckSegment = 0;
  private unacked = { messages: 0, bytes: 0 };
  private droppedTotal = 0;
  private diskBytes = 0;
  private window!: DeliveryWindow;
  private dirtyData = false;
  private dirtyCheckpoint = false;
  private syncing = false;
  private fdsToClose: number[] = [];
  private timers: NodeJS.Timeout[] = [];
  private opened = false;

  constructor(private opts: OutboxOptions) {
    super();
  }

  private get segmentLimit(): number {
    return Math.max(
      HEADER_BYTES * 64,
      Math.min(this.opts.segmentBytes, Math.floor(this.opts.maxBytes / MAX_SEGMENT_SHARE)),
    );
  }

  /** Scan what is on disk (cutting a torn tail), restore seq counters and the acknowledged position. */
  open(): void {
    const { dir, logger } = this.opts;
    mkdirSync(dir, { recursive: true });
    let cp;
    try {
      cp = readCheckpoint(dir);
    } catch (e) {
      if (!isCheckpointError(e)) throw e;
      // Replaying everything again (duplicates) is better than losing anything.
      logger.error({ err: e.message }, 'outbox checkpoint damaged; replaying the whole outbox');
    }
    for (const [k, v] of Object.entries(cp?.seqs ?? {})) this.seqs.set(k, v);
    const ids = listSegments(dir);
    this.ackPos = { segment: cp?.segment ?? 0, offset: cp?.offset ?? 0 };
    if (ids.length > 0 && this.ackPos.segment < ids[0]!)
      this.ackPos = { segment: ids[0]!, offset: 0 };
    for (const id of ids) this.scanSegment(id);
    const last = this.segments.at(-1);
    if (!last || this.ackPos.segment > last.id || last.size >= this.segmentLimit) {
      this.startSegment(Math.max((last?.id ?? 0) + 1, this.ackPos.segment, 1));
    } else {
      this.fd = openSync(segmentPath(dir, last.id), 'a');
    }
    if (this.ackPos.segment < this.segments[0]!.id)
      this.ackPos = { segment: this.segments[0]!.id, offset: 0 };
    this.window = new DeliveryWindow({
      dir,
      maxBodyBytes: MAX_RECORD_BYTES,
      readAheadBytes: this.opts.readAheadBytes,
      segments: () => this.segments,
      start: { ...this.ackPos },
    });
    this.opened = true;
    this.startTimers();
    logger.info(
      {
        dir,
        messages: this.unacked.messages,
        bytes: this.unacked.bytes,
        segments: this.segments.length,
      },
      'outbox opened',
    );
  }

  private scanSegment(id: number): void {
    const path = segmentPath(this.opts.dir, id);
    const size = statSync(path).size;
    const reader = new SegmentReader(path, 0, size, MAX_RECORD_BYTES);
    const seg: Segment = { id, size, count: 0 };
    try {
      for (;;) {
        const step = reader.next();
        if (step.kind === 'end') break;
        if (step.kind === 'corrupt') {
          this.opts.logger.warn(
            { segment: id, offset: step.offset, cutBytes: size - step.offset, reason: step.reason },
            'outbox: torn or corrupt tail cut off',
          );
          const fd = openSync(path, 'r+');
          ftruncateSync(fd, step.offset);
          fdatasyncSync(fd);
          closeSync(fd);
          seg.size = step.offset;
          break;
        }
        const r = step.record;
        seg.count++;
        if (r.seq > (this.seqs.get(r.key) ?? 0)) this.seqs.set(r.key, r.seq);
        const acked =
          id < this.ackPos.segment ||
          (id === this.ackPos.segment && step.end <= this.ackPos.offset);
        if (acked) {
          if (id === this.ackPos.segment) this.ackedInAckSegment++;
        } else {
          this.unacked.messages++;
          this.unacked.bytes += step.end - step.offset;
        }
      }
    } finally {
      reader.close();
    }
    if (id === this.ackPos.segment && this.ackPos.offset > seg.size) this.ackPos.offset = seg.size;
    this.segments.push(seg);
    this.diskBytes += seg.size;
  }

  private startSegment(id: number): void {
    if (this.fd >= 0) {
      fdatasyncSync(this.fd);
      if (this.syncing) this.fdsToClose.push(this.fd);
      else closeSync(this.fd);
    }
    this.fd = openSync(segmentPath(this.opts.dir, id), 'a');
    fsyncDirSync(this.opts.dir);
    this.segments.push({ id, size: 0, count: 0 });
    this.dirtyData = false;
  }

  /** The last seq handed out for key (0 when none). */
  lastSeq(key: string): number {
    return this.seqs.get(key) ?? 0;
  }

  /**
   * Assign the next seq of key, build the payload for it and append it durably (per the fsync policy).
   * Returns the seq, and whether the message was stored (false: rejected by the full-outbox policy).
   */
  append(
    key: string,
    flags: number,
    build: (seq: number) => Buffer,
  ): { seq: number; stored: boolean } {
    if (!this.opened) throw new Error('outbox is not open');
    const seq = this.lastSeq(key) + 1;
    const appendedAtMs = Date.now();
    const rec = encodeRecord({ key, seq, appendedAtMs, flags, payload: build(seq) });
    this.seqs.set(key, seq);
    if (rec.length > this.segmentLimit) {
      this.dirtyCheckpoint = true; // the seq was consumed: persist it with the next checkpoint
      this.recordDrop({ reason: 'too-large', messages: 1, bytes: rec.length, key, seq });
      return { seq, stored: false };
    }
    if (!this.makeRoom(rec.length)) {
      this.dirtyCheckpoint = true;
      this.recordDrop({ reason: 'reject-new', messages: 1, bytes: rec.length, key, seq });
      return { seq, stored: false };
    }
    let active = this.segments.at(-1)!;
    if (active.size > 0 && active.size + rec.length > this.segmentLimit) {
      this.startSegment(active.id + 1);
      active = this.segments.at(-1)!;
    }
    writeFully(this.fd, rec);
    active.size += rec.length;
    active.count++;
    this.diskBytes += rec.length;
    this.unacked.messages++;
    this.unacked.bytes += rec.length;
    if (this.opts.fsync === 'always') fdatasyncSync(this.fd);
    else this.dirtyData = true;
    this.emit('appended');
    return { seq, stored: true };
  }

  /** Free space for `bytes` under maxBytes: compaction first, then the policy. false = reject the new one. */
  private makeRoom(bytes: number): boolean {
    if (this.diskBytes + bytes <= this.opts.maxBytes) return true;
    this.reclaimAcked();
    while (this.diskBytes + bytes > this.opts.maxBytes) {
      if (this.opts.policy === 'reject-new') return false;
      if (this.segments.length < 2) this.startSegment(this.segments.at(-1)!.id + 1);
      this.dropOldestSegment();
    }
    return true;
  }

  private dropOldestSegment(): void {
    const seg = this.segments[0]!;
    const next = this.segments[1]!;
    let messages = 0;
    let bytes = 0;
    if (seg.id > this.ackPos.segment) {
      messages = seg.count;
      bytes = seg.size;
    } else if (seg.id === this.ackPos.segment) {
      messages = seg.count - this.ackedInAckSegment;
      bytes = seg.size - this.ackPos.offset;
    }
    this.window.dropThrough(seg.id, next.id);
    this.unacked.messages -= messages;
    this.unacked.bytes -= bytes;
    if (this.ackPos.segment <= seg.id) {
      this.ackPos = { segment: next.id, offset: 0 };
      this.ackedInAckSegment = 0;
    }
    this.deleteSegmentsBefore(next.id);
    if (messages > 0) this.recordDrop({ reason: 'drop-oldest', messages, bytes });
  }

  private recordDrop(ev: DropEvent): void {
    this.droppedTotal += ev.messages;
    this.emit('dropped', ev);
  }

  // ---- delivery side (used by the publisher) ----

  /** Up to max entries to publish next, in order (re-sent ones first after rewind()). Marks them sent. */
  take(max: number): OutboxEntry[] {
    return this.window.take(max);
  }

  get inflight(): number {
    return this.window.sent;
  }

  /** The broker acknowledged entry; the acknowledged prefix advances over contiguous acks only. */
  ack(entry: OutboxEntry): void {
    for (const e of this.window.ack(entry)) {
      this.unacked.messages--;
      this.unacked.bytes -= e.end - e.offset;
      if (e.segment !== this.ackPos.segment) this.ackedInAckSegment = 0;
      this.ackPos = { segment: e.segment, offset: e.end };
      this.ackedInAckSegment++;
      this.dirtyCheckpoint = true;
    }
  }

  /** The connection was lost: everything sent but not acknowledged will be taken (re-sent) again. */
  rewind(): void {
    this.window.rewind();
  }

  /** Persist the acknowledged position, then delete segments that are wholly acknowledged. */
  compact(): { segments: number; bytes: number } {
    const before = { n: this.segments.length, bytes: this.diskBytes };
    this.reclaimAcked();
    if (this.dirtyCheckpoint) this.writeCheckpoint();
    return { segments: before.n - this.segments.length, bytes: before.bytes - this.diskBytes };
  }

  private reclaimAcked(): void {
    // A finished segment read to its end is wholly acknowledged: move the position to the next one.
    const i = this.segments.findIndex((s) => s.id === this.ackPos.segment);
    const cur = this.segments[i];
    const next = this.segments[i + 1];
    if (cur && next && this.ackPos.offset >= cur.size) {
      this.ackPos = { segment: next.id, offset: 0 };
      this.ackedInAckSegment = 0;
    }
    this.deleteSegmentsBefore(this.ackPos.segment);
  }

  private deleteSegmentsBefore(id: number): void {
    if (!this.segments.some((s) => s.id < id)) return;
    // The checkpoint must name a later position (and hold every seq) before the files go.
    this.writeCheckpoint();
    while (this.segments.length > 1 && this.segments[0]!.id < id) {
      const seg = this.segments.shift()!;
      unlinkSync(segmentPath(this.opts.dir, seg.id));
      this.diskBytes -= seg.size;
    }
    fsyncDirSync(this.opts.dir);
  }

  private writeCheckpoint(): void {
    // Data must be on disk before a checkpoint that may reference it.
    if (this.dirtyData) this.syncDataNow();
    writeCheckpointSync(this.opts.dir, {
      version: 1,
      segment: this.ackPos.segment,
      offset: this.ackPos.offset,
      seqs: Object.fromEntries(this.seqs),
    });
    this.dirtyCheckpoint = false;
  }

  private syncDataNow(): void {
    fdatasyncSync(this.fd);
    this.dirtyData = false;
  }

  private startTimers(): void {
    if (this.opts.fsync === 'batch') {
      const t = setInterval(() => {
        if (!this.dirtyData || this.syncing) return;
        this.dirtyData = false;
        this.syncing = true;
        fdatasync(this.fd, (err) => {
          this.syncing = false;
          for (const fd of this.fdsToClose.splice(0)) closeSync(fd);
          if (err) this.opts.logger.error({ err: err.message }, 'outbox fsync failed');
        });
      }, this.opts.fsyncIntervalMs);
      t.unref();
      this.timers.push(t);
    }
    const c = setInterval(() => {
      try {
        this.compact();
      } catch (e) {
        this.opts.logger.error({ err: (e as Error).message }, 'outbox checkpoint failed');
      }
    }, this.opts.checkpointIntervalMs);
    c.unref();
    this.timers.push(c);
  }

  /** Apply new limits live (maxBytes, policy); other settings apply at the next open. */
  setLimits(l: { maxBytes: number; policy: OutboxOptions['policy'] }): void {
    this.opts = { ...this.opts, ...l };
  }

  stats(): OutboxStats {
    const s: OutboxStats = {
      messages: this.unacked.messages,
      bytes: this.unacked.bytes,
      dropped: this.droppedTotal,
      diskBytes: this.diskBytes,
    };
    const oldest = this.unacked.messages > 0 ? this.window.peekOldest() : undefined;
    if (oldest) s.oldestTs = new Date(oldest.appendedAtMs).toISOString();
    return s;
  }

  /** fsync data, write the checkpoint, close files. */
  close(): void {
    if (!this.opened) return;
    this.opened = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.syncDataNow();
    this.compact();
    this.writeCheckpoint();
    this.window.close();
    closeSync(this.fd);
    this.fd = -1;
  }
}

function writeFully(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}
