// Group commit, the outbox's write path: records are gathered for GROUP_COMMIT_MS and written in
// chunks, one write system call per chunk instead of one per record. Seqs are handed out tentatively
// while a chunk is built and taken for real only once its write succeeded, so the seqs on the wire
// have no gap. The store (outbox.ts) decides where a chunk goes and what it costs; this decides how
// records are cut into chunks.
import type { Logger } from '../../platform/logger.js';
import { encodeRecord } from './record.js';
import type { DropEvent } from './outbox-types.js';

/**
 * How long enqueue() gathers records before writing them together. Short against the read→receipt
 * budget (20 ms), long enough that a PLC answering every ~1 ms has several reads in one write.
 */
export const GROUP_COMMIT_MS = 2;

export interface PendingAppend {
  key: string;
  flags: number;
  build: (seq: number) => Buffer | string;
}

export interface ChunkRecord {
  index: number;
  key: string;
  seq: number;
  rec: Buffer;
}

export interface AppendResult {
  seq: number;
  stored: boolean;
}

/** What group commit needs from the store. */
export interface ChunkStore {
  readonly logger: Logger;
  /** Largest record (and chunk) a segment takes. */
  segmentLimit(): number;
  lastSeq(key: string): number;
  recordDrop(ev: DropEvent): void;
  /** `bytes` more fit the active segment and the outbox's bound as it is now. */
  fits(bytes: number): boolean;
  /** Make room and a segment for a chunk's first record; false = it was dropped (and counted). */
  prepare(bytes: number, key: string): boolean;
  /** Write the chunk at once; true = stored and its seqs taken, false = dropped (and counted). */
  writeChunk(chunk: ChunkRecord[], bytes: number): boolean;
}

export class GroupCommit {
  /** Records enqueue()d this turn, written together by flush(). */
  private pending: PendingAppend[] = [];
  private flushScheduled = false;

  constructor(
    private readonly store: ChunkStore,
    private readonly isOpen: () => boolean,
  ) {}

  enqueue(item: PendingAppend): void {
    this.pending.push(item);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setTimeout(() => {
      this.flushScheduled = false;
      if (this.isOpen()) this.flush();
    }, GROUP_COMMIT_MS);
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    this.write(items, false);
  }

  /** sync (append()): a payload that cannot be built throws to the caller instead of being dropped. */
  write(items: PendingAppend[], sync: boolean): AppendResult[] {
    const store = this.store;
    const results: AppendResult[] = [];
    let chunk: ChunkRecord[] = [];
    let chunkBytes = 0;
    // Seqs handed to records of the chunk not written yet (taken for real only after the write).
    const tentative = new Map<string, number>();
    const now = Date.now();
    const writeChunk = (): void => {
      const stored = store.writeChunk(chunk, chunkBytes);
      for (const c of chunk) results[c.index] = { seq: c.seq, stored };
    };
    for (let i = 0; i < items.length;) {
      const it = items[i]!;
      const seq = (tentative.get(it.key) ?? store.lastSeq(it.key)) + 1;
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
        store.logger.error({ key: it.key, err: (e as Error).message }, 'outbox: record not built');
        store.recordDrop({ reason: 'write-error', messages: 1, bytes: 0, key: it.key });
        results[i++] = { seq, stored: false };
        continue;
      }
      if (rec.length > store.segmentLimit()) {
        store.recordDrop({ reason: 'too-large', messages: 1, bytes: rec.length, key: it.key });
        results[i++] = { seq, stored: false };
        continue;
      }
      if (chunk.length > 0) {
        const total = chunkBytes + rec.length;
        if (store.fits(total)) {
          chunk.push({ index: i++, key: it.key, seq, rec });
          chunkBytes = total;
          tentative.set(it.key, seq);
          continue;
        }
        // It needs room made or a new segment: write the chunk, then take it as the first of the next
        // (encoded again: its seq depends on whether the chunk's write succeeded).
        writeChunk();
        chunk = [];
        chunkBytes = 0;
        tentative.clear();
        continue;
      }
      // The first record of a chunk prepares the file exactly as a single append does.
      if (!store.prepare(rec.length, it.key)) {
        results[i++] = { seq, stored: false };
        continue;
      }
      chunk.push({ index: i++, key: it.key, seq, rec });
      chunkBytes = rec.length;
      tentative.set(it.key, seq);
    }
    if (chunk.length > 0) writeChunk();
    return results;
  }
}
