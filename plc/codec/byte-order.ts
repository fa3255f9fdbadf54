// Byte order of multi-register values: maps PLC words to big-endian bytes (ABCD…) and back.
// Every order is a combination of two involutions that commute: swap the two bytes of each
// word (BADC, DCBA) and reverse the word order (CDAB, DCBA). Strings and 16-bit values only swap bytes.
import type { ByteOrder } from '../config/schema.js';

export function swapsBytes(order: ByteOrder): boolean {
  return order === 'BADC' || order === 'DCBA';
}

export function reversesWords(order: ByteOrder): boolean {
  return order === 'CDAB' || order === 'DCBA';
}

export function swap16(w: number): number {
  return ((w & 0xff) << 8) | ((w >> 8) & 0xff);
}

/** True when w is a 16-bit register value (0..65535 integer). */
export function isWord(w: unknown): w is number {
  return typeof w === 'number' && Number.isInteger(w) && w >= 0 && w <= 0xffff;
}

/**
 * Copies `n` words of `data` from `offset` into `view` as big-endian bytes, undoing the byte order.
 * Returns the index (relative to offset) of the first word that is not a 16-bit value, or -1.
 */
export function loadWords(
  view: DataView,
  order: ByteOrder,
  data: ArrayLike<number>,
  offset: number,
  n: number,
): number {
  const swap = swapsBytes(order);
  const reverse = reversesWords(order);
  for (let i = 0; i < n; i++) {
    const src = reverse ? n - 1 - i : i;
    const w = data[offset + src];
    if (!isWord(w)) return src;
    view.setUint16(i * 2, swap ? swap16(w) : w);
  }
  return -1;
}

/** Inverse of loadWords: reads `n` big-endian words from `view` and applies the byte order. */
export function storeWords(view: DataView, order: ByteOrder, n: number): number[] {
  const swap = swapsBytes(order);
  const reverse = reversesWords(order);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const w = view.getUint16(i * 2);
    out[reverse ? n - 1 - i : i] = swap ? swap16(w) : w;
  }
  return out;
}
