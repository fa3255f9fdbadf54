// The durable outbox: every data message is appended to an on-disk segment before it is published and
// forgotten only once the broker acknowledged it. Segments are append-only; a checkpoint records where
// the contiguous acknowledged prefix ends; fully acknowledged segments are deleted (compaction).
// Bounded by maxBytes with an explicit policy; every drop is reported through the 'dropped' event.
import { EventEmitter } from 'node:events';
import type { OutboxEvents } from './outbox-events.js';
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
import {
  isCheckpointError,
  readCheckpoint,
  writeCheckpointAsync,
  writeCheckpointSync,
} from './checkpoint.js';
import { fsyncDirSync } from '../../platform/atomic-file.js';
import { encodeRecord, HEADER_BYTES } from './record.js';
import { listSegments, segmentPath, SegmentReader } from './segment-files.js';
import { DeliveryWindow, type OutboxEntry } from './delivery-window.js';
import { WmsLedger, type WmsAckOutcome } from './wms-ledger.js';

export type { OutboxEntry } from './delivery-window.js';
export type { WmsAckOutcome } from './wms-ledger.js';

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
  /**
   * broker: a message is done at the broker's PUBACK. wms-ack: it is done only when the WMS's cumulative
   * ack for its key (plc/{plc}/ack) covers its seq; until then it is kept and may be sent again.
   */
  delivery?: Delivery;
}

export type Delivery = 'broker' | 'wms-ack';

export interface DropEvent {
  /** disk-full: the file system had no room (ENOSPC/EDQUOT); write-error: any other write failure. */
  reason: 'drop-oldest' | 'reject-new' | 'too-large' | 'corrupt' | 'disk-full' | 'write-error';
  messages: number;
  bytes: number;
  /** For a rejected new message: its key (PLC id). No seq was taken for it. */
  key?: string;
}

/** The outbox cannot write (a full file system): set while it lasts, with the error that started it. */
export interface WriteFailure {
  code: string;
  message: string;
  since: string;
}

export interface OutboxStats {
  messages: number;
  bytes: number;
  dropped: number;
  diskBytes: number;
  oldestTs?: string;
  writeFailure?: WriteFailure;
}

interface PendingAppend {
  key: string;
  flags: number;
  build: (seq: number) => Buffer | string;
}

interface ChunkRecord {
  index: number;
  key: string;
  seq: number;
  rec: Buffer;
}

interface Segment {
  id: number;
  size: number;
  count: number;
}

/**
 * How long enqueue() gathers records before writing them together. Short against the read→receipt
 * budget (20 ms), long enough that a PLC answering every ~1 ms has several reads in one write.
 */
export const GROUP_COMMIT_MS = 2;

/** Largest record body a reader accepts: records written under a larger segmentBytes must stay readable. */
const MAX_RECORD_BYTES = 1024 ** 3;
/** Segments are at most this share of maxBytes, so drop-oldest never throws away more than a quarter. */
const MAX_SEGMENT_SHARE = 4;

export class Outbox extends EventEmitter<OutboxEvents> {
  private segments: Segment[] = [];
  private fd = -1;
  private seqs = new Map<string, number>();
  private ledger = new WmsLedger();
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
  private failure: WriteFailure | undefined;
  /** Bumped by every synchronous checkpoint: an async one started before it must not land after it. */
  private checkpointGen = 0;
  private checkpointing = false;
  private checkpointFailing = false;
  /** A failed write could not be undone yet: the active segment must be cut back to this size first. */
  private rollbackTo: number | undefined;
  /** Records enqueue()d this turn, written together by flush(). */
  private pending: PendingAppend[] = [];
  private flushScheduled = false;

  constructor(private opts: OutboxOptions) {
    super();
  }

  get delivery(): Delivery {
    return this.opts.delivery ?? 'broker';
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
    this.ledger.load(cp?.acked);
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
      isAcked: (key, seq) => this.delivery === 'wms-ack' && this.ledger.covers(key, seq),
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
        if (step.kind === 'gap') {
          // Records after the damage are valid and were accepted: skip the damage, keep them.
          this.opts.logger.warn(
            {
              segment: id,
              offset: step.offset,
              skippedBytes: step.end - step.offset,
              reason: step.reason,
            },
            'outbox: damaged record skipped, the records after it kept',
          );
          continue;
        }
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
    // Open the new file first: when that fails (a full disk) nothing has changed.
    const fd = openSync(segmentPath(this.opts.dir, id), 'a');
    const old = this.fd;
    this.fd = fd;
    this.segments.push({ id, size: 0, count: 0 });
    this.dirtyData = false;
    if (old >= 0) {
      try {
        fdatasyncSync(old);
      } catch (e) {
        this.opts.logger.error({ err: (e as Error).message }, 'outbox fsync failed');
      }
      if (this.syncing) this.fdsToClose.push(old);
      else closeSync(old);
    }
    fsyncDirSync(this.opts.dir);
  }

  /** The last seq handed out for key (0 when none). */
  lastSeq(key: string): number {
    return this.seqs.get(key) ?? 0;
  }

  /**
   * Build the payload for the next seq of key and append it durably (per the fsync policy). The seq is
   * taken only when the record is wholly written: a rejected or failed append leaves it free for the
   * next reading, so the seqs on the wire have no gap. Never throws for a full disk: the reading is
   * dropped, counted (reason disk-full) and the outbox reports the failure until a write succeeds again.
   * Records queued with enqueue() before it are written first, so order is kept.
   */
  append(
    key: string,
    flags: number,
    build: (seq: number) => Buffer | string,
  ): { seq: number; stored: boolean } {
    if (!this.opened) throw new Error('outbox is not open');
    this.flush();
    return this.appendMany([{ key, flags, build }], true)[0]!;
  }

  /**
   * Group commit: queue a record for the next write, at most GROUP_COMMIT_MS from now. Every record
   * queued until then goes to disk in one write system call (instead of one each) and, through the one
   * 'appended' it causes, to the broker in one socket write; with exactly append()'s rules: its seq is
   * taken only once that write succeeded, a failed or rejected one takes none. A crash before the write
   * loses readings that never had a seq, as a crash just before their poll would.
   */
  enqueue(key: string, flags: number, build: (seq: number) => Buffer | string): void {
    if (!this.opened) throw new Error('outbox is not open');
    this.pending.push({ key, flags, build });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setTimeout(() => {
      this.flushScheduled = false;
      if (this.opened) this.flush();
    }, GROUP_COMMIT_MS);
  }

  /** Write whatever enqueue() holds now (called at the end of the turn, before append() and close()). */
  flush(): void {
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    this.appendMany(items, false);
  }

  private appendMany(items: PendingAppend[], sync: boolean): { seq: number; stored: boolean }[] {
    const results: { seq: number; stored: boolean }[] = [];
    let chunk: ChunkRecord[] = [];
    let chunkBytes = 0;
    // Seqs handed to records of the chunk not written yet (taken for real only after the write).
    const tentative = new Map<string, number>();
    const now = Date.now();
    for (let i = 0; i < items.length;) {
      const it = items[i]!;
      const seq = (tentative.get(it.key) ?? this.lastSeq(it.key)) + 1;
      let rec: Buffer;
      try {
        rec = encodeRecord({
          key: it.key,
          seq,
          appendedAtMs: now,
          flags: it.flags,
          payload: it.build(seq),
        });
      } catch (e) {
        if (sync) throw e;
        // A payload that cannot be built is that reading's problem, not its neighbours'.
        this.opts.logger.error(
          { key: it.key, err: (e as Error).message },
          'outbox: record not built',
        );
        this.recordDrop({ reason: 'write-error', messages: 1, bytes: 0, key: it.key });
        results[i++] = { seq, stored: false };
        continue;
      }
      if (rec.length > this.segmentLimit) {
        this.recordDrop({ reason: 'too-large', messages: 1, bytes: rec.length, key: it.key });
        results[i++] = { seq, stored: false };
        continue;
      }
      if (chunk.length > 0) {
        const total = chunkBytes + rec.length;
        const active = this.segments.at(-1)!;
        if (
          active.size + total <= this.segmentLimit &&
          this.diskBytes + total <= this.opts.maxBytes
        ) {
          chunk.push({ index: i++, key: it.key, seq, rec });
          chunkBytes = total;
          tentative.set(it.key, seq);
          continue;
        }
        // It needs room made or a new segment: write the chunk, then take it as the first of the next
        // (encoded again: its seq depends on whether the chunk's write succeeded).
        this.writeChunk(chunk, chunkBytes, results);
        chunk = [];
        chunkBytes = 0;
        tentative.clear();
        continue;
      }
      // The first record of a chunk prepares the file exactly as a single append does.
      try {
        if (this.rollbackTo !== undefined) this.rollBack();
        if (!this.makeRoom(rec.length)) {
          this.recordDrop({ reason: 'reject-new', messages: 1, bytes: rec.length, key: it.key });
          results[i++] = { seq, stored: false };
          continue;
        }
        const active = this.segments.at(-1)!;
        if (active.size > 0 && active.size + rec.length > this.segmentLimit)
          this.startSegment(active.id + 1);
      } catch (e) {
        this.writeFailed(e as NodeJS.ErrnoException, rec.length, it.key);
        results[i++] = { seq, stored: false };
        continue;
      }
      chunk.push({ index: i++, key: it.key, seq, rec });
      chunkBytes = rec.length;
      tentative.set(it.key, seq);
    }
    if (chunk.length > 0) this.writeChunk(chunk, chunkBytes, results);
    return results;
  }

  /** One write for the chunk; its seqs are taken only after it is wholly written (and synced if 'always'). */
  private writeChunk(
    chunk: ChunkRecord[],
    bytes: number,
    results: { seq: number; stored: boolean }[],
  ): void {
    const active = this.segments.at(-1)!;
    try {
      this.rollbackTo = active.size;
      writeFully(
        this.fd,
        chunk.length === 1
          ? chunk[0]!.rec
          : Buffer.concat(
              chunk.map((c) => c.rec),
              bytes,
            ),
      );
      if (this.opts.fsync === 'always') fdatasyncSync(this.fd);
      this.rollbackTo = undefined;
    } catch (e) {
      for (const [n, c] of chunk.entries()) {
        if (n === 0) this.writeFailed(e as NodeJS.ErrnoException, c.rec.length, c.key);
        else
          this.recordDrop({
            reason: this.failureReason(),
            messages: 1,
            bytes: c.rec.length,
            key: c.key,
          });
        results[c.index] = { seq: c.seq, stored: false };
      }
      return;
    }
    for (const c of chunk) {
      this.seqs.set(c.key, c.seq);
      results[c.index] = { seq: c.seq, stored: true };
    }
    active.size += bytes;
    active.count += chunk.length;
    this.diskBytes += bytes;
    this.unacked.messages += chunk.length;
    this.unacked.bytes += bytes;
    if (this.opts.fsync !== 'always') this.dirtyData = true;
    if (this.failure) this.writeRecovered();
    this.emit('appended');
  }

  private failureReason(): 'disk-full' | 'write-error' {
    const code = this.failure?.code;
    return code === 'ENOSPC' || code === 'EDQUOT' ? 'disk-full' : 'write-error';
  }

  /** Cut the active segment back to its last whole record (undo a partly written one). */
  private rollBack(): void {
    const to = this.rollbackTo!;
    ftruncateSync(this.fd, to);
    this.rollbackTo = undefined;
  }

  private writeFailed(e: NodeJS.ErrnoException, bytes: number, key: string): void {
    // Nothing may be appended behind a partial record: undo it now, or before the next append.
    if (this.rollbackTo !== undefined) {
      try {
        this.rollBack();
      } catch (te) {
        this.opts.logger.error(
          { err: (te as Error).message },
          'outbox: partial record not cut yet; retried before the next append',
        );
      }
    }
    const full = e.code === 'ENOSPC' || e.code === 'EDQUOT';
    if (!this.failure) {
      this.failure = {
        code: e.code ?? 'EIO',
        message: e.message,
        since: new Date().toISOString(),
      };
      this.opts.logger.error(
        { err: e.message, code: e.code, dir: this.opts.dir },
        full
          ? 'outbox: file system full; new readings are dropped until space returns'
          : 'outbox: write failed; new readings are dropped until writes succeed',
      );
      this.emit('write-failure', this.failure);
    }
    this.recordDrop({ reason: full ? 'disk-full' : 'write-error', messages: 1, bytes, key });
  }

  private writeRecovered(): void {
    const f = this.failure!;
    this.failure = undefined;
    this.opts.logger.info({ since: f.since, code: f.code }, 'outbox: writing again');
    this.emit('write-recovered', f);
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
    const ackPos = this.ackPos.segment <= seg.id ? { segment: next.id, offset: 0 } : this.ackPos;
    // The checkpoint names the later position before anything changes: if it cannot be written (a full
    // disk) this throws and the outbox is as it was.
    this.writeCheckpoint(ackPos);
    this.window.dropThrough(seg.id, next.id);
    this.unacked.messages -= messages;
    this.unacked.bytes -= bytes;
    if (ackPos !== this.ackPos) {
      this.ackPos = ackPos;
      this.ackedInAckSegment = 0;
    }
    this.deleteSegmentsBefore(next.id, true);
    if (messages > 0) this.recordDrop({ reason: 'drop-oldest', messages, bytes });
  }

  private recordDrop(ev: DropEvent): void {
    this.droppedTotal += ev.messages;
    this.emit('dropped', ev);
  }

  // ---- delivery side (used by the publisher) ----

  /** Up to max entries to publish next, in order (re-sent ones first after rewind()). Marks them sent. */
  take(max: number): OutboxEntry[] {
    const out = this.window.take(max);
    for (const e of out) this.ledger.noteSent(e.key, e.seq);
    // Entries read from disk that the WMS had confirmed before a restart are skipped by take(): release them.
    this.release(this.window.popAcked());
    return out;
  }

  get inflight(): number {
    return this.window.sent;
  }

  /**
   * The broker acknowledged entry (PUBACK). broker mode: it is done, and the acknowledged prefix advances
   * over contiguous acks only. wms-ack mode: it waits for the WMS's ack (or goes again after a timeout).
   */
  ack(entry: OutboxEntry): void {
    if (this.delivery === 'wms-ack') {
      if (this.ledger.covers(entry.key, entry.seq))
        this.release(this.window.ackWhere((e) => e === entry));
      else this.window.published(entry, Date.now());
      return;
    }
    this.release(this.window.ack(entry));
  }

  /**
   * The WMS confirmed every message of key up to seq (cumulative). Refused (nothing changes) when seq is
   * beyond what was sent to the broker in this run, or the key never had a message; an old seq is stale.
   */
  wmsAck(key: string, seq: number): WmsAckOutcome {
    if (this.delivery !== 'wms-ack') return { kind: 'not-wms-ack-mode' };
    const refused = this.ledger.accept(key, seq, this.seqs.has(key));
    if (refused) return refused;
    this.dirtyCheckpoint = true;
    const before = this.unacked.messages;
    this.release(this.window.ackWhere((e) => e.key === key && e.seq <= seq));
    return { kind: 'applied', released: before - this.unacked.messages };
  }

  /** The highest seq of key the WMS confirmed (0 when none, or in broker mode). */
  wmsAckedSeq(key: string): number {
    return this.ledger.ackedSeq(key);
  }

  /**
   * wms-ack mode: when the oldest message the broker took has waited timeoutMs for the WMS's ack, every
   * unconfirmed one is made ready again, oldest first (the WMS may have missed them). Returns how many.
   */
  resendUnconfirmed(timeoutMs: number, nowMs = Date.now()): number {
    if (this.delivery !== 'wms-ack' || !this.opened) return 0;
    const oldest = this.window.oldestPublished();
    if (!oldest || nowMs - (oldest.publishedAtMs ?? 0) < timeoutMs) return 0;
    return this.window.resendPublished();
  }

  /** Switch delivery mode live: to broker, whatever the broker already took is done. */
  setDelivery(delivery: Delivery): void {
    if (delivery === this.delivery) return;
    this.opts = { ...this.opts, delivery };
    if (delivery === 'broker' && this.opened)
      this.release(this.window.ackWhere((e) => e.state === 'published'));
  }

  /** Entries that left the window as the acknowledged prefix: their disk space may be reclaimed. */
  private release(done: OutboxEntry[]): void {
    for (const e of done) {
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

  private deleteSegmentsBefore(id: number, checkpointed = false): void {
    if (!this.segments.some((s) => s.id < id)) return;
    // The checkpoint must name a later position (and hold every seq) before the files go.
    if (!checkpointed) this.writeCheckpoint();
    while (this.segments.length > 1 && this.segments[0]!.id < id) {
      const seg = this.segments.shift()!;
      unlinkSync(segmentPath(this.opts.dir, seg.id));
      this.diskBytes -= seg.size;
    }
    fsyncDirSync(this.opts.dir);
  }

  private writeCheckpoint(pos = this.ackPos): void {
    // Data must be on disk before a checkpoint that may reference it.
    if (this.dirtyData) this.syncDataNow();
    this.checkpointGen++;
    writeCheckpointSync(this.opts.dir, {
      version: 1,
      segment: pos.segment,
      offset: pos.offset,
      seqs: Object.fromEntries(this.seqs),
      ...this.ledger.toCheckpoint(),
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
          if (err) {
            this.dirtyData = true; // try again: the checkpoint must not get ahead of the data
            this.opts.logger.error({ err: err.message }, 'outbox fsync failed');
          }
        });
      }, this.opts.fsyncIntervalMs);
      t.unref();
      this.timers.push(t);
    }
    const c = setInterval(() => {
      try {
        this.reclaimAcked(); // deletes segments (with a synchronous checkpoint first) only when some are done
        if (this.dirtyCheckpoint && !this.checkpointing && !this.syncing)
          void this.checkpointAsync();
      } catch (e) {
        this.checkpointFailed(e);
      }
    }, this.opts.checkpointIntervalMs);
    c.unref();
    this.timers.push(c);
  }

  /** The periodic checkpoint, with its fdatasync and fsyncs off the main loop. */
  private async checkpointAsync(): Promise<void> {
    this.checkpointing = true;
    this.dirtyCheckpoint = false;
    const gen = this.checkpointGen;
    const cp = {
      version: 1 as const,
      segment: this.ackPos.segment,
      offset: this.ackPos.offset,
      seqs: Object.fromEntries(this.seqs),
    };
    try {
      if (this.dirtyData) {
        // Data before the checkpoint that may reference it; the fd stays open while syncing.
        this.dirtyData = false;
        this.syncing = true;
        try {
          await new Promise<void>((resolve, reject) =>
            fdatasync(this.fd, (err) => (err ? reject(err) : resolve())),
          );
        } catch (e) {
          this.dirtyData = true;
          throw e;
        } finally {
          this.syncing = false;
          for (const fd of this.fdsToClose.splice(0)) closeSync(fd);
        }
      }
      await writeCheckpointAsync(
        this.opts.dir,
        cp,
        () => this.opened && gen === this.checkpointGen,
      );
      if (this.checkpointFailing) {
        this.checkpointFailing = false;
        this.opts.logger.info('outbox checkpoint written again');
      }
    } catch (e) {
      this.dirtyCheckpoint = true;
      this.checkpointFailed(e);
    } finally {
      this.checkpointing = false;
    }
  }

  private checkpointFailed(e: unknown): void {
    // Once per failing streak: on a full disk this would otherwise log every interval.
    if (this.checkpointFailing) return;
    this.checkpointFailing = true;
    this.opts.logger.error({ err: (e as Error).message }, 'outbox checkpoint failed');
  }

  /** Apply new limits live (maxBytes, policy); other settings apply at the next open. */
  setLimits(l: { maxBytes: number; policy: OutboxOptions['policy'] }): void {
    this.opts = { ...this.opts, ...l };
  }

  /** What is on disk, after writing whatever enqueue() still holds (so a caller sees every reading). */
  stats(): OutboxStats {
    if (this.opened) this.flush();
    const s: OutboxStats = {
      messages: this.unacked.messages,
      bytes: this.unacked.bytes,
      dropped: this.droppedTotal,
      diskBytes: this.diskBytes,
    };
    const oldest = this.unacked.messages > 0 ? this.window.peekOldest() : undefined;
    if (oldest) s.oldestTs = new Date(oldest.appendedAtMs).toISOString();
    if (this.failure) s.writeFailure = { ...this.failure };
    return s;
  }

  /** fsync data, write the checkpoint, close files. */
  close(): void {
    if (!this.opened) return;
    this.flush();
    this.opened = false;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    try {
      if (this.rollbackTo !== undefined) this.rollBack();
      this.syncDataNow();
      this.compact();
      this.writeCheckpoint();
    } catch (e) {
      // A full disk at shutdown: what is in the segments is recovered by the scan at the next open.
      this.opts.logger.error({ err: (e as Error).message }, 'outbox: final checkpoint failed');
    }
    this.window.close();
    closeSync(this.fd);
    this.fd = -1;
  }
}

function writeFully(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}
