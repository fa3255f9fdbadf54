// value = raw * scale + offset, and its inverse for writing.
import type { TagConfig } from '../config/schema.js';
import { CodecError } from './codec-error.js';

/** Significant digits kept when scaling integers: removes binary artefacts such as 123*0.1 = 12.300000000000001. */
export const SCALED_SIGNIFICANT_DIGITS = 12;

export function isIdentity(tag: Pick<TagConfig, 'scale' | 'offset'>): boolean {
  return tag.scale === 1 && tag.offset === 0;
}

/** Integer raw → engineering value; identity keeps the integer untouched. */
export function scaleInteger(tag: TagConfig, raw: number): number {
  if (isIdentity(tag)) return raw;
  const v = raw * tag.scale + tag.offset;
  return Number.isFinite(v) ? Number(v.toPrecision(SCALED_SIGNIFICANT_DIGITS)) : v;
}

/** Float raw → engineering value; identity keeps the float bit-exact (including -0 and NaN). */
/**
 * The shortest decimal that is the same float32: a PLC's 12.3 arrives as 12.3, not 12.300000190734863.
 * Math.fround of the result gives back the exact register bits, so encode(decode(x)) is unchanged.
 */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let p = 1; p <= 9; p++) {
    const c = Number(x.toPrecision(p));
    if (Math.fround(c) === x) return c;
  }
  return x;
}

export function scaleFloat(tag: TagConfig, raw: number): number {
  return isIdentity(tag) ? raw : raw * tag.scale + tag.offset;
}

/** Engineering value → raw (not yet rounded). */
export function unscale(tag: TagConfig, value: number): number {
  if (isIdentity(tag)) return value;
  if (tag.scale === 0) throw new CodecError(tag.name, 'scale', 'scale 0 cannot be written');
  return (value - tag.offset) / tag.scale;
}

/** Rounds half away from zero (Math.round rounds -2.5 to -2). */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}
