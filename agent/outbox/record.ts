// One outbox record on disk: [u32 bodyLength][u32 crc32(body)][body].
// body = [u8 flags][u8 keyLength][key utf8][f64 seq][f64 appendedAtMs][payload].
// The CRC makes a torn tail (crash mid-write) detectable, so it is cut off instead of replayed as garbage.
import { crc32 } from 'node:zlib';

export const HEADER_BYTES = 8;
export const FIXED_BODY_BYTES = 1 + 1 + 8 + 8;
/** flags bit 0: the payload is gzip-compressed (published with content type application/gzip). */
export const FLAG_GZIP = 1;

export interface OutboxRecord {
  key: string;
  seq: number;
  appendedAtMs: number;
  flags: number;
  payload: Buffer;
}

/** What encodeRecord takes: the payload may be a string, written as UTF-8 straight into the record. */
export interface NewRecord extends Omit<OutboxRecord, 'payload'> {
  payload: Buffer | string;
}

export function encodeRecord(r: NewRecord): Buffer {
  const key = Buffer.from(r.key, 'utf8');
  if (key.length > 255)
    throw new RangeError(`outbox key "${r.key.slice(0, 40)}…" is over 255 bytes`);
  // A string payload is encoded into the record itself (no intermediate Buffer and copy).
  const payloadLength =
    typeof r.payload === 'string' ? Buffer.byteLength(r.payload, 'utf8') : r.payload.length;
  const bodyLength = FIXED_BODY_BYTES + key.length + payloadLength;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + bodyLength);
  buf.writeUInt32BE(bodyLength, 0);
  let o = HEADER_BYTES;
  buf.writeUInt8(r.flags, o++);
  buf.writeUInt8(key.length, o++);
  key.copy(buf, o);
  o += key.length;
  buf.writeDoubleBE(r.seq, o);
  o += 8;
  buf.writeDoubleBE(r.appendedAtMs, o);
  o += 8;
  if (typeof r.payload === 'string') buf.write(r.payload, o, 'utf8');
  else r.payload.copy(buf, o);
  buf.writeUInt32BE(crc32(buf.subarray(HEADER_BYTES)), 4);
  return buf;
}

export type DecodeResult =
  | { kind: 'record'; record: OutboxRecord; size: number }
  /** Not enough bytes in buf for a whole record: read more (or, at the end of the file, a torn tail). */
  | { kind: 'incomplete'; need: number }
  | { kind: 'corrupt'; reason: string };

/**
 * Check the record starting at buf[at] (length bounds, whole, CRC): its size when it is a valid record,
 * else why not. maxBodyBytes bounds what a corrupt length field can make us read.
 */
export function checkRecord(
  buf: Buffer,
  at: number,
  maxBodyBytes: number,
): number | Exclude<DecodeResult, { kind: 'record' }> {
  if (buf.length - at < HEADER_BYTES) return { kind: 'incomplete', need: HEADER_BYTES };
  const bodyLength = buf.readUInt32BE(at);
  if (bodyLength < FIXED_BODY_BYTES || bodyLength > maxBodyBytes)
    return { kind: 'corrupt', reason: `record length ${bodyLength} out of range` };
  const size = HEADER_BYTES + bodyLength;
  if (buf.length - at < size) return { kind: 'incomplete', need: size };
  if (crc32(buf.subarray(at + HEADER_BYTES, at + size)) !== buf.readUInt32BE(at + 4))
    return { kind: 'corrupt', reason: 'CRC mismatch' };
  if (FIXED_BODY_BYTES + buf[at + HEADER_BYTES + 1]! > bodyLength)
    return { kind: 'corrupt', reason: 'key longer than record' };
  return size;
}

/** The fields of a record checkRecord() found valid at buf[at] with this size (no checks, no copy). */
export function readRecordFields(buf: Buffer, at: number, size: number): OutboxRecord {
  const b = at + HEADER_BYTES;
  const keyLength = buf[b + 1]!;
  const o = b + 2 + keyLength;
  return {
    key: buf.toString('utf8', b + 2, o),
    seq: buf.readDoubleBE(o),
    appendedAtMs: buf.readDoubleBE(o + 8),
    flags: buf[b]!,
    payload: buf.subarray(o + 16, at + size),
  };
}

/** Decode the record starting at buf[at]. maxBodyBytes bounds what a corrupt length field can make us read. */
export function decodeRecord(buf: Buffer, at: number, maxBodyBytes: number): DecodeResult {
  const size = checkRecord(buf, at, maxBodyBytes);
  if (typeof size !== 'number') return size;
  return { kind: 'record', record: readRecordFields(buf, at, size), size };
}
