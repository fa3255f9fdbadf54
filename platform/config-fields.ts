// Config fields that the agent's and OTA's sections share: byte sizes written for people (512MiB,
// 100MB, 64k, or a plain number of bytes) and JWK public keys.
import { z } from 'zod';

export const jwkSchema = z
  .looseObject({ kty: z.string(), kid: z.string().optional() })
  .describe('A JWK public key');

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

export function parseSize(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
  if (!m) return undefined;
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  return Math.floor(Number(m[1]) * unit);
}

/** A size field: accepts `512MiB` or a number of bytes, yields bytes, bounded. */
export function sizeSchema(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = parseSize(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (e.g. 512MiB, 100MB, 65536)` });
      return z.NEVER;
    }
    if (n < min || n > max) {
      ctx.addIssue({
        code: 'custom',
        message: `must be between ${min} and ${max} bytes (got ${n})`,
      });
      return z.NEVER;
    }
    return n;
  });
}
