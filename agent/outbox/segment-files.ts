// Segment files of the outbox: naming, listing, and a streaming record reader with a bounded buffer,
// so reading a 500 MB backlog never holds more than one chunk (plus one record) in memory.
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRecord, type OutboxRecord } from './record.js';

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
  /** Bytes at offset are not a valid record (torn tail or corruption); the file is valid up to offset. */
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
      const d = decodeRecord(this.buf, this.pos, this.maxBodyBytes);
      if (d.kind === 'record') {
        this.pos += d.size;
        if (at + d.size > this.limit) return { kind: 'corrupt', offset: at, reason: 'past end' };
        return { kind: 'record', record: d.record, offset: at, end: at + d.size };
      }
      if (d.kind === 'corrupt') return { kind: 'corrupt', offset: at, reason: d.reason };
      // incomplete: refill from `at`, at least one whole record if it fits within limit
      const want = Math.min(Math.max(READ_CHUNK_BYTES, d.need), this.limit - at);
      if (want < d.need) return { kind: 'corrupt', offset: at, reason: 'truncated record' };
      const buf = Buffer.allocUnsafe(want);
      let got = 0;
      while (got < want) {
        const n = readSync(this.fd, buf, got, want - got, at + got);
        if (n === 0) break;
        got += n;
      }
      if (got < d.need) return { kind: 'corrupt', offset: at, reason: 'truncated record' };
      this.buf = buf.subarray(0, got);
      this.bufStart = at;
      this.pos = 0;
    }
  }

  close(): void {
    closeSync(this.fd);
    this.buf = Buffer.alloc(0);
  }
}
