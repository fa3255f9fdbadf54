// Strings: 2 characters per register, high byte first (ABCD/CDAB) or swapped (BADC/DCBA), latin1.
import type { TagConfig } from '../config/schema.js';
import { CodecError, describeValue } from './codec-error.js';
import { isWord, swapsBytes } from './byte-order.js';

/** Printable latin1: ASCII 0x20-0x7E and 0xA0-0xFF; control characters are refused when writing. */
function isPrintableLatin1(c: number): boolean {
  return (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xff);
}

/** Decodes `n` registers: stops at the first NUL, trims trailing spaces. */
export function decodeString(
  tag: TagConfig,
  data: ArrayLike<number>,
  offset: number,
  n: number,
): string {
  const swap = swapsBytes(tag.byteOrder);
  const codes: number[] = [];
  for (let i = 0; i < n; i++) {
    const w = data[offset + i];
    if (!isWord(w))
      throw new CodecError(
        tag.name,
        'malformed',
        `register ${i} is not a 16-bit value (${describeValue(w)})`,
      );
    const first = swap ? w & 0xff : w >> 8;
    const second = swap ? w >> 8 : w & 0xff;
    if (first === 0) break;
    codes.push(first);
    if (second === 0) break;
    codes.push(second);
  }
  let end = codes.length;
  while (end > 0 && codes[end - 1] === 0x20) end--;
  return String.fromCharCode(...codes.slice(0, end));
}

export function encodeString(tag: TagConfig, value: unknown, n: number): number[] {
  if (typeof value !== 'string')
    throw new CodecError(tag.name, 'type', `expects a string, got ${describeValue(value)}`);
  if (value.length > n * 2)
    throw new CodecError(
      tag.name,
      'length',
      `string of ${value.length} characters is too long: at most ${n * 2} fit in ${n} registers`,
    );
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (!isPrintableLatin1(c))
      throw new CodecError(
        tag.name,
        'charset',
        `character U+${c.toString(16).padStart(4, '0').toUpperCase()} at position ${i} is not printable ASCII/latin1`,
      );
  }
  const swap = swapsBytes(tag.byteOrder);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    // Past the end charCodeAt gives NaN; `|| 0` pads with NUL.
    const first = value.charCodeAt(2 * i) || 0;
    const second = value.charCodeAt(2 * i + 1) || 0;
    out[i] = swap ? (second << 8) | first : (first << 8) | second;
  }
  return out;
}
