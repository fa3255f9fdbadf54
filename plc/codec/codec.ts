// PLC codec: Modbus registers ⇄ tag values for every type and byte order (docs/data-types.md).
// Registers are 16-bit words as the driver returns them; byte order is undone into a big-endian
// scratch buffer, read with DataView, then value = raw * scale + offset.
import { tagWidth, type TagConfig } from '../config/schema.js';
import { loadWords, storeWords, isWord, swap16, swapsBytes } from './byte-order.js';
import { CodecError, describeValue } from './codec-error.js';
import {
  isIdentity,
  roundHalfAway,
  scaleFloat,
  scaleInteger,
  shortestFloat32,
  unscale,
} from './scale.js';
import { decodeString, encodeString } from './string-codec.js';

export { CodecError, isCodecError, type CodecErrorKind } from './codec-error.js';

export type TagValue = number | boolean | string;

// One scratch buffer: decoding is synchronous, so it is never shared between two calls in flight.
const scratch = new DataView(new ArrayBuffer(8));

const INT_RANGE = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
} as const;
const BIG_RANGE = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
} as const;
const FLOAT32_MAX = 3.4028234663852886e38;

/** regs: exactly tagWidth(tag) 16-bit registers starting at tag.address. Applies byte order, then value = raw*scale + offset. */
export function decodeRegisters(tag: TagConfig, regs: ArrayLike<number>): TagValue {
  const width = tagWidth(tag);
  if (regs.length !== width)
    throw new CodecError(
      tag.name,
      'malformed',
      `expected ${width} register(s) for ${tag.type}, got ${regs.length}`,
    );
  return decodeAt(tag, regs, 0);
}

/**
 * Decodes the tag from `data` starting at `offset` (the caller checked that tagWidth(tag) words are there).
 * Used by the planner to decode a whole block without copying.
 */
export function decodeAt(tag: TagConfig, data: ArrayLike<number>, offset: number): TagValue {
  switch (tag.type) {
    case 'bool':
      return wordAt(tag, data, offset) !== 0;
    case 'bit':
      return decodeBit(tag, wordAt(tag, data, offset));
    case 'string':
      return decodeString(tag, data, offset, tagWidth(tag));
    default:
      break;
  }
  const width = tagWidth(tag);
  const bad = loadWords(scratch, tag.byteOrder, data, offset, width);
  if (bad >= 0)
    throw new CodecError(
      tag.name,
      'malformed',
      `register ${bad} is not a 16-bit value (${describeValue(data[offset + bad])})`,
    );
  switch (tag.type) {
    case 'int16':
      return scaleInteger(tag, scratch.getInt16(0));
    case 'uint16':
      return scaleInteger(tag, scratch.getUint16(0));
    case 'int32':
      return scaleInteger(tag, scratch.getInt32(0));
    case 'uint32':
      return scaleInteger(tag, scratch.getUint32(0));
    case 'float32':
      return scaleFloat(tag, shortestFloat32(scratch.getFloat32(0)));
    case 'float64':
      return scaleFloat(tag, scratch.getFloat64(0));
    case 'int64':
      return fromBig(tag, scratch.getBigInt64(0));
    case 'uint64':
      return fromBig(tag, scratch.getBigUint64(0));
  }
}

function wordAt(tag: TagConfig, data: ArrayLike<number>, offset: number): number {
  const w = data[offset];
  if (!isWord(w))
    throw new CodecError(
      tag.name,
      'malformed',
      `register is not a 16-bit value (${describeValue(w)})`,
    );
  return w;
}

/** 64-bit: exact number when safe, exact decimal string otherwise; a float when scaled. */
function fromBig(tag: TagConfig, raw: bigint): number | string {
  if (!isIdentity(tag)) return scaleInteger(tag, Number(raw));
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : raw.toString();
}

/** Inverse: value → registers (after (value - offset)/scale, rounding for integer types). */
export function encodeRegisters(tag: TagConfig, value: unknown): number[] {
  switch (tag.type) {
    case 'bool':
      return [encodeBool(tag, value) ? 1 : 0];
    case 'bit':
      // Writing a whole register for one bit would clobber its 15 neighbours.
      throw new CodecError(
        tag.name,
        'type',
        'a bit tag is written by read-modify-write of its register (applyBit), not as a whole register',
      );
    case 'string':
      return encodeString(tag, value, tagWidth(tag));
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32': {
      const raw = toRawInteger(tag, value, INT_RANGE[tag.type]);
      if (tag.type === 'int16' || tag.type === 'uint16') {
        const w = raw & 0xffff;
        return [swapsBytes(tag.byteOrder) ? swap16(w) : w];
      }
      scratch.setUint32(0, raw >>> 0);
      return storeWords(scratch, tag.byteOrder, 2);
    }
    case 'int64':
    case 'uint64':
      scratch.setBigUint64(0, BigInt.asUintN(64, toRawBig(tag, value, BIG_RANGE[tag.type])));
      return storeWords(scratch, tag.byteOrder, 4);
    case 'float32':
    case 'float64': {
      const raw = toRawFloat(tag, value);
      if (tag.type === 'float32') {
        scratch.setFloat32(0, raw);
        return storeWords(scratch, tag.byteOrder, 2);
      }
      scratch.setFloat64(0, raw);
      return storeWords(scratch, tag.byteOrder, 4);
    }
  }
}

function expectNumber(tag: TagConfig, value: unknown): number {
  if (typeof value !== 'number')
    throw new CodecError(
      tag.name,
      'type',
      `expects a number for ${tag.type}, got ${describeValue(value)}`,
    );
  return value;
}

function toRawInteger(tag: TagConfig, value: unknown, [lo, hi]: readonly [number, number]): number {
  const v = expectNumber(tag, value);
  if (!Number.isFinite(v))
    throw new CodecError(tag.name, 'non-finite', `${v} cannot be written to ${tag.type}`);
  const raw = roundHalfAway(unscale(tag, v)) + 0; // + 0 turns -0 into 0
  if (!(raw >= lo && raw <= hi))
    throw new CodecError(tag.name, 'range', rangeMessage(tag, v, raw, lo, hi));
  return raw;
}

function rangeMessage(tag: TagConfig, v: unknown, raw: unknown, lo: unknown, hi: unknown): string {
  const scaled = isIdentity(tag) ? '' : ` (raw ${String(raw)} after scale/offset)`;
  return `${String(v)}${scaled} is out of range for ${tag.type} (raw ${String(lo)}..${String(hi)})`;
}

const DECIMAL_INTEGER = /^[+-]?\d{1,20}$/;
const DECIMAL_NUMBER = /^[+-]?\d{1,20}(\.\d{1,20})?$/;

function toRawBig(tag: TagConfig, value: unknown, [lo, hi]: readonly [bigint, bigint]): bigint {
  let raw: bigint;
  if (typeof value === 'string') {
    const s = value.trim();
    if (isIdentity(tag) && DECIMAL_INTEGER.test(s)) raw = BigInt(s);
    else if (DECIMAL_NUMBER.test(s)) raw = BigInt(roundHalfAway(unscale(tag, Number(s))));
    else
      throw new CodecError(
        tag.name,
        'type',
        `expects a number or a decimal string for ${tag.type}, got ${describeValue(value)}`,
      );
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new CodecError(tag.name, 'non-finite', `${value} cannot be written to ${tag.type}`);
    const r = roundHalfAway(unscale(tag, value));
    if (!Number.isFinite(r))
      throw new CodecError(tag.name, 'range', rangeMessage(tag, value, r, lo, hi));
    raw = BigInt(r);
  } else
    throw new CodecError(
      tag.name,
      'type',
      `expects a number or a decimal string for ${tag.type}, got ${describeValue(value)}`,
    );
  if (raw < lo || raw > hi)
    throw new CodecError(tag.name, 'range', rangeMessage(tag, value, raw, lo, hi));
  return raw;
}

function toRawFloat(tag: TagConfig, value: unknown): number {
  const v = expectNumber(tag, value);
  const raw = unscale(tag, v);
  // NaN and ±Infinity are written faithfully; a finite value that becomes infinite does not fit.
  const limit = tag.type === 'float32' ? FLOAT32_MAX : Number.MAX_VALUE;
  if (Number.isFinite(v) && !(Math.abs(raw) <= limit || Math.abs(Math.fround(raw)) <= limit))
    throw new CodecError(tag.name, 'range', rangeMessage(tag, v, raw, -limit, limit));
  return raw;
}

/** bit type: read bit `tag.bit` of a register (after the byte swap of BADC/DCBA). */
export function decodeBit(tag: TagConfig, reg: number): boolean {
  if (!isWord(reg))
    throw new CodecError(
      tag.name,
      'malformed',
      `register is not a 16-bit value (${describeValue(reg)})`,
    );
  const r = swapsBytes(tag.byteOrder) ? swap16(reg) : reg;
  return ((r >> (tag.bit ?? 0)) & 1) === 1;
}

/** Read-modify-write helper: `reg` with bit `tag.bit` set to `value`, every other bit untouched. */
export function applyBit(tag: TagConfig, reg: number, value: unknown): number {
  if (!isWord(reg))
    throw new CodecError(
      tag.name,
      'malformed',
      `register is not a 16-bit value (${describeValue(reg)})`,
    );
  const on = encodeBool(tag, value);
  const swap = swapsBytes(tag.byteOrder);
  const mask = 1 << (tag.bit ?? 0);
  const r = swap ? swap16(reg) : reg;
  const next = on ? r | mask : r & ~mask & 0xffff;
  return swap ? swap16(next) : next;
}

/** bool (coil/discrete, and bit) — validate a value to write: accepts true/false, 0/1. */
export function encodeBool(tag: TagConfig, value: unknown): boolean {
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  throw new CodecError(tag.name, 'type', `expects true/false or 0/1, got ${describeValue(value)}`);
}
