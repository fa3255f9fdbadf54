// Segment files of the outbox: naming, listing, and a streaming record reader with a bounded buffer,
// so reading a 500 MB backlog never holds more than one chunk (plus one record) in memory.
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkRecord,
  decodeRecord,
  readRecordFields,
  FIXED_BODY_BYTES,
  FLAG_GZIP,
  HEADER_BYTES,
  type OutboxRecord,
} from './record.js';

const SEGMENT_RE = /^seg-(\d{12})\.log$/;
/** Bytes read from disk at a time by the streaming reader. */
export const READ_CHUNK_BYTES = 256 * 1024;

export function segmentName(id: number): string {
  return `seg-${String(id).padStart(12, '0')}.log`;
}

export function segmentPath(dir: string, id: number): string {
  return join(dir, segmentName(id));
}

/** Segment ids present in dir, ascending. Foreign files are ignored. */
export function listSegments(dir: string): number[] {
  return readdirSync(dir)
    .map((n) => SEGMENT_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

export type ReadStep =
  | { kind: 'record'; record: OutboxRecord; offset: number; end: number }
  | { kind: 'end' }
  /**
   * Bytes [offset, end) are not a record (a write torn by a crash or a full disk) but a valid record
   * starts at end: the reader skips the damage, so records written after it are never lost.
   */
  | { kind: 'gap'; offset: number; end: number; reason: string }
  /** Bytes at offset are not a valid record and none follows (a torn tail); the file is valid up to offset. */
  | { kind: 'corrupt'; offset: number; reason: string };

/** Reads records of one segment file sequentially from `offset` up to `limit` bytes (the known valid size). */
export class SegmentReader {
  private fd: number;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart: number;
  private pos = 0; // index into buf of the next record

  constructor(
    path: string,
    private offset: number,
    public limit: number,
    private readonly maxBodyBytes: number,
  ) {
    this.fd = openSync(path, 'r');
    this.bufStart = offset;
  }

  get position(): number {
    return this.bufStart + this.pos;
  }

  next(): ReadStep {
    for (;;) {
      const at = this.bufStart + this.pos;
      if (at >= this.limit) return { kind: 'end' };
      const d = checkRecord(this.buf, this.pos, this.maxBodyBytes);
      if (typeof d === 'number') {
        const start = this.pos;
        this.pos += d;
        if (at + d > this.limit) return { kind: 'corrupt', offset: at, reason: 'past end' };
        return {
          kind: 'record',
          record: readRecordFields(this.buf, start, d),
          offset: at,
          end: at + d,
        };
      }
      if (d.kind === 'corrupt') return this.damaged(at, d.reason);
      // incomplete: refill from `at`, at least one whole record if it fits within limit
      const want = Math.min(Math.max(READ_CHUNK_BYTES, d.need), this.limit - at);
      if (want < d.need) return this.damaged(at, 'truncated record');
      if (this.fillAt(at, want) < d.need) return this.damaged(at, 'truncated record');
    }
  }

  /** Read up to `want` bytes at file offset `at` into the buffer; returns how many were read. */
  private fillAt(at: number, want: number): number {
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const n = readSync(this.fd, buf, got, want - got, at + got);
      if (n === 0) break;
      got += n;
    }
    this.buf = buf.subarray(0, got);
    this.bufStart = at;
    this.pos = 0;
    return got;
  }

  /**
   * The bytes at `at` are damaged: look for the next offset (below limit) where a whole record with a
   * valid CRC starts. Found: a gap, and reading goes on there. Not found: a torn tail.
   */
  private damaged(at: number, reason: string): ReadStep {
    for (let p = at + 1; p + HEADER_BYTES <= this.limit; p++) {
      let i = p - this.bufStart;
      if (i < 0 || i + HEADER_BYTES > this.buf.length) {
        if (this.fillAt(p, Math.min(READ_CHUNK_BYTES, this.limit - p)) < HEADER_BYTES) break;
        i = 0;
      }
      const len = this.buf.readUInt32BE(i);
      // Cheap filters first: a plausible length that fits, flags and key length in range.
      if (len > this.maxBodyBytes || p + HEADER_BYTES + len > this.limit || len < FIXED_BODY_BYTES)
        continue;
      if (i + HEADER_BYTES + 2 <= this.buf.length) {
        const flags = this.buf.readUInt8(i + HEADER_BYTES);
        const keyLen = this.buf.readUInt8(i + HEADER_BYTES + 1);
        if (flags > FLAG_GZIP || FIXED_BODY_BYTES + keyLen > len) continue;
      }
      if (i + HEADER_BYTES + len > this.buf.length) {
        if (
          this.fillAt(p, Math.min(Math.max(READ_CHUNK_BYTES, HEADER_BYTES + len), this.limit - p)) <
          HEADER_BYTES + len
        )
          continue;
        i = 0;
      }
      if (decodeRecord(this.buf, i, this.maxBodyBytes).kind !== 'record') continue;
      this.pos = i;
      return { kind: 'gap', offset: at, end: p, reason };
    }
    return { kind: 'corrupt', offset: at, reason };
  }

  close(): void {
    closeSync(this.fd);
    this.buf = Buffer.alloc(0);
  }
}
