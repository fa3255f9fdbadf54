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

/** Exact powers of ten as doubles (10^0 .. 10^22 are exactly representable). */
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * The shortest decimal that is the same float32: a PLC's 12.3 arrives as 12.3, not 12.300000190734863.
 * Math.fround of the result gives back the exact register bits, so encode(decode(x)) is unchanged.
 * Always equal to the first p in 1..9 for which Number(x.toPrecision(p)) is the same float32
 * (`shortestFloat32Reference`), computed without strings on the hot path.
 */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = x < 0 ? -x : x;
  // Beyond 1e-14..1e22 the scale factors below are no longer exact doubles.
  if (a < 1e-14 || a >= 1e22) return shortestFloat32Reference(x);
  let e = Math.floor(Math.log10(a)); // 10^e <= a < 10^(e+1); log10 may be off by one: correct it
  const t1 = a / POW10_SIGNED(e);
  if (t1 < 1) e--;
  else if (t1 >= 10) e++;
  // Which p is first is monotone in p (the decimals a float32 accepts form an interval around it,
  // symmetric unless x is a power of two; the nearest (p+1)-digit decimal is never farther than the
  // nearest p-digit one): bisect 1..9. A power of two has an asymmetric interval: scan in order.
  let lo = 1;
  let hi = 9;
  let best = NaN;
  if (isPowerOfTwo(a)) {
    for (let p = 1; p <= 9; p++) {
      const c = candidate(a, p, e);
      if (c === FALLBACK) return shortestFloat32Reference(x);
      if (Math.fround(c) === a) return x < 0 ? -c : c;
    }
    return x;
  }
  while (lo <= hi) {
    const p = (lo + hi) >> 1;
    const c = candidate(a, p, e);
    if (c === FALLBACK) return shortestFloat32Reference(x);
    if (Math.fround(c) === a) {
      best = c;
      hi = p - 1;
    } else lo = p + 1;
  }
  if (best !== best) return x; // NaN: no p up to 9 (cannot happen for a float32)
  return x < 0 ? -best : best;
}

const FALLBACK = -1;

function POW10_SIGNED(e: number): number {
  return e >= 0 ? POW10[e]! : 1 / POW10[-e]!;
}

function isPowerOfTwo(a: number): boolean {
  F32[0] = a;
  return (U32[0]! & 0x7fffff) === 0 || (U32[0]! & 0x7f800000) === 0; // subnormals: scan too
}
const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/**
 * Number(a.toPrecision(p)) for positive a with 10^e <= a < 10^(e+1), without strings; FALLBACK
 * when the double arithmetic cannot tell which way toPrecision rounds.
 */
function candidate(a: number, p: number, e: number): number {
  const k = p - 1 - e;
  if (k > 22 || k < -22) return FALLBACK;
  const t = k >= 0 ? a * POW10[k]! : a / POW10[-k]!;
  if (t < POW10[p - 1]! || t >= POW10[p]!) return FALLBACK; // exponent not as assumed
  const fl = Math.floor(t);
  const frac = t - fl;
  // t carries a rounding error below 2^-53 * 10^9 ≈ 1.1e-7: only near a tie could it round the
  // other way than the exact decimal expansion does (toPrecision rounds half up).
  if (frac > 0.4999995 && frac < 0.5000005) return FALLBACK;
  const n = frac >= 0.5 ? fl + 1 : fl;
  // n and 10^|k| are exact doubles, so one division/multiplication is the correctly rounded double
  // of n × 10^-k — the same double Number() parses from the decimal string.
  return k >= 0 ? n / POW10[k]! : n * POW10[-k]!;
}

/** The definition shortestFloat32 follows (strings; slower): first p whose decimal is the same float32. */
export function shortestFloat32Reference(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let p = 1; p <= 9; p++) {
    const c = Number(x.toPrecision(p));
    if (Math.fround(c) === x) return c;
  }
  return x;
}

/** Float raw → engineering value; identity keeps the float bit-exact (including -0 and NaN). */
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
