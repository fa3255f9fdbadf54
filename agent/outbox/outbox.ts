// The durable outbox: every data message is appended to an on-disk segment before it is published and
// forgotten only once the broker acknowledged it. Segments are append-only; a checkpoint records where
// the contiguous acknowledged prefix ends; fully acknowledged segments are deleted (compaction).
// Bounded by maxBytes with an explicit policy; every drop is reported through the 'dropped' event.
// This file is the store's bookkeeping (segments, the acknowledged position, limits and drops); the
// write path is group-commit.ts, compaction and the maxBytes policy retention.ts, the file being appended active-segment.ts, recovery outbox-recovery.ts
// and segment-scan.ts, checkpoint timing checkpoint-writer.ts, the delivery side outbox-delivery.ts.
import { EventEmitter } from 'node:events';
import type { OutboxEvents } from './outbox-events.js';
import type { Checkpoint } from './checkpoint.js';
import { fsyncDirSync } from '../../platform/atomic-file.js';
import { HEADER_BYTES } from './record.js';
import { segmentPath } from './segment-files.js';
import { DeliveryWindow, type OutboxEntry } from './delivery-window.js';
import { WmsLedger, type WmsAckOutcome } from './wms-ledger.js';
import type { Delivery, DropEvent, OutboxOptions, OutboxStats } from './outbox-types.js';
import { recover } from './outbox-recovery.js';
import { OutboxDelivery } from './outbox-delivery.js';
import { StoreState } from './store-state.js';
import { Retention } from './retention.js';
import { ActiveSegment } from './active-segment.js';
import { CheckpointWriter } from './checkpoint-writer.js';
import { GroupCommit, type ChunkRecord } from './group-commit.js';
import { WriteFailureState } from './write-failure.js';

export type { OutboxEntry } from './delivery-window.js';
export type { WmsAckOutcome } from './wms-ledger.js';
export type {
  Delivery,
  DropEvent,
  OutboxOptions,
  OutboxStats,
  WriteFailure,
} from './outbox-types.js';
export { GROUP_COMMIT_MS } from './group-commit.js';

/** Largest record body a reader accepts: records written under a larger segmentBytes must stay readable. */
const MAX_RECORD_BYTES = 1024 ** 3;
/** Segments are at most this share of maxBytes, so drop-oldest never throws away more than a quarter. */
const MAX_SEGMENT_SHARE = 4;

export class Outbox extends EventEmitter<OutboxEvents> {
  private st = new StoreState();
  private retention: Retention;
  private file: ActiveSegment;
  private checkpoints: CheckpointWriter;
  private commits: GroupCommit;
  private ledger = new WmsLedger();
  private droppedTotal = 0;
  private window!: DeliveryWindow;
  private timers: NodeJS.Timeout[] = [];
  private opened = false;
  private failure: WriteFailureState;
  private sending: OutboxDelivery;

  constructor(private opts: OutboxOptions) {
    super();
    this.file = new ActiveSegment(opts.logger);
    this.checkpoints = new CheckpointWriter(opts.dir, opts.logger);
    this.failure = new WriteFailureState(opts.dir, opts.logger, {
      started: (f) => this.emit('write-failure', f),
      ended: (f) => this.emit('write-recovered', f),
    });
    this.sending = new OutboxDelivery({
      window: () => this.window,
      ledger: this.ledger,
      mode: () => this.delivery,
      opened: () => this.opened,
      knows: (key) => this.st.seqs.has(key),
      unackedMessages: () => this.st.unacked.messages,
      release: (done) => this.release(done),
      changed: () => (this.checkpoints.dirty = true),
    });
    this.retention = new Retention(this.st, {
      opts: () => this.opts,
      startSegment: (id) => this.startSegment(id),
      writeCheckpoint: (pos) => this.writeCheckpoint(pos),
      dropThrough: (segId, nextId) => this.window.dropThrough(segId, nextId),
      recordDrop: (ev) => this.recordDrop(ev),
    });
    // The store's side of group commit stays private: only the Outbox's API is public.
    this.commits = new GroupCommit(
      {
        logger: opts.logger,
        segmentLimit: () => this.segmentLimit,
        lastSeq: (key) => this.lastSeq(key),
        recordDrop: (ev) => this.recordDrop(ev),
        fits: (bytes) => this.fits(bytes),
        prepare: (bytes, key) => this.prepare(bytes, key),
        writeChunk: (chunk, bytes) => this.writeChunk(chunk, bytes),
      },
      () => this.opened,
    );
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
    const { wmsAcked, ...r } = recover(dir, MAX_RECORD_BYTES, logger);
    Object.assign(this.st, r);
    this.ledger.load(wmsAcked);
    const last = this.st.segments.at(-1);
    if (!last || this.st.ackPos.segment > last.id || last.size >= this.segmentLimit) {
      this.startSegment(Math.max((last?.id ?? 0) + 1, this.st.ackPos.segment, 1));
    } else {
      this.file.open(segmentPath(dir, last.id));
    }
    if (this.st.ackPos.segment < this.st.segments[0]!.id)
      this.st.ackPos = { segment: this.st.segments[0]!.id, offset: 0 };
    this.window = new DeliveryWindow({
      dir,
      maxBodyBytes: MAX_RECORD_BYTES,
      readAheadBytes: this.opts.readAheadBytes,
      segments: () => this.st.segments,
      start: { ...this.st.ackPos },
      isAcked: (key, seq) => this.delivery === 'wms-ack' && this.ledger.covers(key, seq),
    });
    this.opened = true;
    this.startTimers();
    logger.info(
      {
        dir,
        messages: this.st.unacked.messages,
        bytes: this.st.unacked.bytes,
        segments: this.st.segments.length,
      },
      'outbox opened',
    );
  }

  private startSegment(id: number): void {
    // Open the new file first: when that fails (a full disk) nothing has changed.
    const old = this.file.replace(segmentPath(this.opts.dir, id));
    this.st.segments.push({ id, size: 0, count: 0 });
    this.file.retire(old);
    fsyncDirSync(this.opts.dir);
  }

  /** The last seq handed out for key (0 when none). */
  lastSeq(key: string): number {
    return this.st.seqs.get(key) ?? 0;
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
    return this.commits.write([{ key, flags, build }], true)[0]!;
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
    this.commits.enqueue({ key, flags, build });
  }

  /** Write whatever enqueue() holds now (called at the end of the turn, before append() and close()). */
  flush(): void {
    this.commits.flush();
  }

  // ---- where group commit's chunks go ----

  private fits(bytes: number): boolean {
    const active = this.st.segments.at(-1)!;
    return (
      active.size + bytes <= this.segmentLimit && this.st.diskBytes + bytes <= this.opts.maxBytes
    );
  }

  private prepare(bytes: number, key: string): boolean {
    try {
      if (this.file.needsRollback) this.file.rollBack();
      if (!this.retention.makeRoom(bytes)) {
        this.recordDrop({ reason: 'reject-new', messages: 1, bytes, key });
        return false;
      }
      const active = this.st.segments.at(-1)!;
      if (active.size > 0 && active.size + bytes > this.segmentLimit)
        this.startSegment(active.id + 1);
    } catch (e) {
      this.writeFailed(e as NodeJS.ErrnoException, bytes, key);
      return false;
    }
    return true;
  }

  /** One write for the chunk; its seqs are taken only after it is wholly written (and synced if 'always'). */
  private writeChunk(chunk: ChunkRecord[], bytes: number): boolean {
    const active = this.st.segments.at(-1)!;
    try {
      this.file.write(
        chunk.length === 1
          ? chunk[0]!.rec
          : Buffer.concat(
              chunk.map((c) => c.rec),
              bytes,
            ),
        active.size,
        this.opts.fsync === 'always',
      );
    } catch (e) {
      for (const [n, c] of chunk.entries()) {
        if (n === 0) this.writeFailed(e as NodeJS.ErrnoException, c.rec.length, c.key);
        else
          this.recordDrop({
            reason: this.failure.reason(),
            messages: 1,
            bytes: c.rec.length,
            key: c.key,
          });
      }
      return false;
    }
    for (const c of chunk) this.st.seqs.set(c.key, c.seq);
    active.size += bytes;
    active.count += chunk.length;
    this.st.diskBytes += bytes;
    this.st.unacked.messages += chunk.length;
    this.st.unacked.bytes += bytes;
    this.failure.succeeded();
    this.emit('appended');
    return true;
  }

  private writeFailed(e: NodeJS.ErrnoException, bytes: number, key: string): void {
    // Nothing may be appended behind a partial record: undo it now, or before the next append.
    if (this.file.needsRollback) {
      try {
        this.file.rollBack();
      } catch (te) {
        this.opts.logger.error(
          { err: (te as Error).message },
          'outbox: partial record not cut yet; retried before the next append',
        );
      }
    }
    this.recordDrop({ reason: this.failure.fail(e), messages: 1, bytes, key });
  }

  private recordDrop(ev: DropEvent): void {
    this.droppedTotal += ev.messages;
    this.emit('dropped', ev);
  }

  // ---- delivery side (used by the publisher) ----

  /** Up to max entries to publish next, in order (re-sent ones first after rewind()). Marks them sent. */
  take(max: number): OutboxEntry[] {
    return this.sending.take(max);
  }

  get inflight(): number {
    return this.window.sent;
  }

  /**
   * The broker acknowledged entry (PUBACK). broker mode: it is done, and the acknowledged prefix advances
   * over contiguous acks only. wms-ack mode: it waits for the WMS's ack (or goes again after a timeout).
   */
  ack(entry: OutboxEntry): void {
    this.sending.ack(entry);
  }

  /**
   * The WMS confirmed every message of key up to seq (cumulative). Refused (nothing changes) when seq is
   * beyond what was sent to the broker in this run, or the key never had a message; an old seq is stale.
   */
  wmsAck(key: string, seq: number): WmsAckOutcome {
    return this.sending.wmsAck(key, seq);
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
    return this.sending.resendUnconfirmed(timeoutMs, nowMs);
  }

  /** Switch delivery mode live: to broker, whatever the broker already took is done. */
  setDelivery(delivery: Delivery): void {
    if (delivery === this.delivery) return;
    this.opts = { ...this.opts, delivery };
    this.sending.switched(delivery);
  }

  /** Entries that left the window as the acknowledged prefix: their disk space may be reclaimed. */
  private release(done: readonly OutboxEntry[]): void {
    if (this.st.release(done)) this.checkpoints.dirty = true;
  }

  /** The connection was lost: everything sent but not acknowledged will be taken (re-sent) again. */
  rewind(): void {
    this.window.rewind();
  }

  /** Persist the acknowledged position, then delete segments that are wholly acknowledged. */
  compact(): { segments: number; bytes: number } {
    const before = { n: this.st.segments.length, bytes: this.st.diskBytes };
    this.retention.reclaimAcked();
    if (this.checkpoints.dirty) this.writeCheckpoint();
    return {
      segments: before.n - this.st.segments.length,
      bytes: before.bytes - this.st.diskBytes,
    };
  }

  private writeCheckpoint(pos = this.st.ackPos): void {
    // Data must be on disk before a checkpoint that may reference it.
    if (this.file.dirty) this.file.syncNow();
    this.checkpoints.writeSync(this.checkpoint(pos));
  }

  /** What a checkpoint holds, the same for the synchronous and the periodic one. */
  private checkpoint(pos = this.st.ackPos): Checkpoint {
    return {
      version: 1,
      segment: pos.segment,
      offset: pos.offset,
      seqs: Object.fromEntries(this.st.seqs),
      // The WMS-confirmed seqs too: without them a crash after a periodic checkpoint would send
      // confirmed data again and judge the WMS's next acks against nothing.
      ...this.ledger.toCheckpoint(),
    };
  }

  private startTimers(): void {
    if (this.opts.fsync === 'batch')
      this.timers.push(this.file.startBatchSync(this.opts.fsyncIntervalMs));
    const c = setInterval(() => {
      try {
        this.retention.reclaimAcked(); // deletes segments (with a synchronous checkpoint first) only when some are done
        if (this.checkpoints.dirty && !this.checkpoints.running && !this.file.syncing)
          void this.checkpoints.writeAsync(
            this.checkpoint(),
            () => this.file.syncIfDirty(),
            () => this.opened,
          );
      } catch (e) {
        this.checkpoints.failed(e);
      }
    }, this.opts.checkpointIntervalMs);
    c.unref();
    this.timers.push(c);
  }

  /** Apply new limits live (maxBytes, policy); other settings apply at the next open. */
  setLimits(l: { maxBytes: number; policy: OutboxOptions['policy'] }): void {
    this.opts = { ...this.opts, ...l };
  }

  /** What is on disk, after writing whatever enqueue() still holds (so a caller sees every reading). */
  stats(): OutboxStats {
    if (this.opened) this.flush();
    const s: OutboxStats = {
      messages: this.st.unacked.messages,
      bytes: this.st.unacked.bytes,
      dropped: this.droppedTotal,
      diskBytes: this.st.diskBytes,
    };
    const oldest = this.st.unacked.messages > 0 ? this.window.peekOldest() : undefined;
    if (oldest) s.oldestTs = new Date(oldest.appendedAtMs).toISOString();
    if (this.failure.current) s.writeFailure = { ...this.failure.current };
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
      if (this.file.needsRollback) this.file.rollBack();
      this.file.syncNow();
      this.compact();
      this.writeCheckpoint();
    } catch (e) {
      // A full disk at shutdown: what is in the segments is recovered by the scan at the next open.
      this.opts.logger.error({ err: (e as Error).message }, 'outbox: final checkpoint failed');
    }
    this.window.close();
    this.file.close();
  }
}
