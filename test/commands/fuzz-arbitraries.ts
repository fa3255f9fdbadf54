// The fuzz's generators and checks, shared by fuzz-commands, fuzz-config and fuzz-trust: random and
// mutated command payloads (signed, other key, plain, flipped, truncated, swapped, raw bytes, JSON, big),
// the id a reader can get out of one without trusting it, and what every ack must satisfy.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Ack } from '../../agent/commands/command-service.js';
import { REJECTION_CODES, reasonCode } from '../../agent/commands/rejection.js';
import { createLogger } from '../../platform/logger.js';
import { nowSec, type Signer } from './signer.js';

export const logger = createLogger({ level: 'silent' });
export const TAGS = [
  'target',
  'speed',
  'count',
  'label',
  'flag',
  'running',
  'temp',
  'ro',
  'far',
  'tick',
  'nope',
];
export const MAX_PAYLOAD = 4096;

/** The fuzz is about parsing, not disks: its (real, fsynced) files go on tmpfs where there is one. */
export function fuzzDir(): { path: string; cleanup: () => void } {
  const base = existsSync('/dev/shm') ? '/dev/shm' : (process.env.TMPDIR ?? '/tmp');
  const path = mkdtempSync(join(base, 'wmsgw-fuzz-'));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export const anyValue = fc.oneof(
  fc.integer({ min: -70_000, max: 70_000 }),
  fc.double(),
  fc.boolean(),
  fc.string({ maxLength: 12 }),
  fc.constant(null),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
  fc.anything({ maxDepth: 2 }),
);
export const claimsArb = fc.record(
  {
    id: fc.oneof(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.integer(),
      fc.constant(''),
      fc.anything({ maxDepth: 1 }),
    ),
    plc: fc.oneof(fc.constant('plc1'), fc.constant('nope'), fc.anything({ maxDepth: 1 })),
    op: fc.oneof(fc.constant('write'), fc.constant('read'), fc.string({ maxLength: 6 })),
    values: fc.oneof(
      fc.dictionary(fc.constantFrom(...TAGS), anyValue, { maxKeys: 4 }),
      fc.anything({ maxDepth: 1 }),
    ),
    tags: fc.oneof(
      fc.array(fc.constantFrom(...TAGS), { maxLength: 4 }),
      fc.anything({ maxDepth: 1 }),
    ),
    iat: fc.oneof(
      fc.constant(nowSec()),
      fc.integer({ min: nowSec() - 4000, max: nowSec() + 4000 }),
      fc.anything({ maxDepth: 0 }),
    ),
    exp: fc.oneof(
      fc.constant(nowSec() + 60),
      fc.integer({ min: nowSec() - 4000, max: nowSec() + 8000 }),
      fc.anything({ maxDepth: 0 }),
    ),
    nbf: fc.integer({ min: nowSec() - 100, max: nowSec() + 100 }),
  },
  { requiredKeys: [] },
);

/** Mostly-valid commands (so the fuzz also reaches the PLC), with random values and the odd wrong field. */
export const nearValidArb = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 40 }),
    op: fc.constantFrom('write', 'write', 'read'),
    values: fc.dictionary(
      fc.constantFrom('target', 'speed', 'count', 'label', 'flag', 'running', 'far'),
      anyValue,
      { minKeys: 1, maxKeys: 3 },
    ),
    tags: fc.array(fc.constantFrom(...TAGS), { minLength: 1, maxLength: 4 }),
    small: fc.integer({ min: 0, max: 1500 }),
  })
  .map(({ id, op, values, tags, small }) => ({
    id,
    plc: 'plc1',
    op,
    ...(op === 'write' ? { values: small % 2 ? values : { target: small } } : { tags }),
    iat: nowSec(),
    exp: nowSec() + 60,
  }));

export type Form =
  'signed' | 'other-key' | 'plain' | 'flip' | 'truncate' | 'swap' | 'bytes' | 'json' | 'big';
export const formArb = fc.constantFrom<Form>(
  'signed',
  'signed',
  'other-key',
  'plain',
  'plain',
  'flip',
  'truncate',
  'swap',
  'bytes',
  'json',
  'big',
);

export async function build(
  form: Form,
  claims: object,
  signer: Signer,
  other: Signer,
  rnd: number,
  raw: Uint8Array,
  json: unknown,
): Promise<Buffer> {
  const text = JSON.stringify(claims);
  switch (form) {
    case 'signed':
      return Buffer.from(await signer.sign(claims));
    case 'other-key':
      return Buffer.from(await other.sign(claims));
    case 'plain':
      return Buffer.from(text);
    case 'bytes':
      return Buffer.from(raw);
    case 'json':
      return Buffer.from(JSON.stringify(json) ?? 'null');
    case 'big':
      return Buffer.from(await signer.sign({ ...claims, pad: 'x'.repeat(MAX_PAYLOAD) }));
    default: {
      const jws = await signer.sign(claims);
      if (form === 'truncate') return Buffer.from(jws.slice(0, rnd % jws.length));
      if (form === 'swap') {
        const [a, b, c] = jws.split('.');
        return Buffer.from([b, a, c].join('.'));
      }
      const chars = [...jws];
      const i = rnd % chars.length;
      chars[i] = String.fromCharCode(32 + ((chars[i]!.charCodeAt(0) + rnd) % 95));
      return Buffer.from(chars.join(''));
    }
  }
}

/** The id a reader can get out of the payload without trusting it (what the ack must echo). */
export function expectedId(buf: Buffer): string | number | null {
  const text = buf.toString('utf8').trim();
  let doc: unknown;
  try {
    doc = /^[\w-]+\.[\w-]*\.[\w-]+$/.test(text)
      ? JSON.parse(Buffer.from(text.split('.')[1]!, 'base64url').toString('utf8'))
      : JSON.parse(text);
  } catch {
    return null;
  }
  const id = (doc as { id?: unknown } | null)?.id;
  if (typeof id === 'string' && id.length > 0) return id;
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  return null;
}

export function checkAck(ack: Ack, payload: Buffer): void {
  assert.deepEqual(
    ack.id,
    expectedId(payload),
    `ack ${JSON.stringify(ack)} for ${payload.toString().slice(0, 200)}`,
  );
  assert.ok(ack.status === 'accepted' || ack.status === 'rejected');
  if (ack.status === 'rejected')
    assert.ok((REJECTION_CODES as readonly string[]).includes(reasonCode(ack.reason!)), ack.reason);
}
