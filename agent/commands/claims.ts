// The command payload (CONTRACT.md §3): shape first, then time. Each problem names its claim.
import { RejectedError } from './rejection.js';
import { looksLikeCompactJws } from '../../platform/signature/verify-jws.js';
import { parseSteps, type SequenceStep } from './sequence-claims.js';

export const MAX_ID_LENGTH = 128;

interface Common {
  id: string;
  plc: string;
  iat?: number;
  exp?: number;
  nbf?: number;
}
export interface WriteCommand extends Common {
  op: 'write';
  values: Record<string, unknown>;
}
export interface ReadCommand extends Common {
  op: 'read';
  tags: string[];
}
export interface SequenceCommand extends Common {
  op: 'sequence';
  steps: SequenceStep[];
}
export type Command = WriteCommand | ReadCommand | SequenceCommand;

export function parseJsonObject(bytes: Uint8Array | string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new RejectedError('malformed', undefined, 'payload is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new RejectedError('malformed', undefined, 'payload must be a JSON object');
  return doc as Record<string, unknown>;
}

/** A JWS's or plain JSON's payload, unverified: only ever used to name the command in its ack. */
export function readUnverified(text: string): unknown {
  try {
    if (looksLikeCompactJws(text))
      return JSON.parse(Buffer.from(text.split('.')[1]!, 'base64url').toString('utf8'));
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Best effort, for the ack only: the id of a payload that may fail every other check. */
export function peekId(doc: unknown): string | number | null {
  if (typeof doc !== 'object' || doc === null) return null;
  const id = (doc as { id?: unknown }).id;
  if (typeof id === 'string' && id.length > 0) return id.slice(0, MAX_ID_LENGTH);
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  return null;
}

function need<T>(
  doc: Record<string, unknown>,
  k: string,
  ok: (v: unknown) => v is T,
  what: string,
): T {
  const v = doc[k];
  if (v === undefined || v === null) throw new RejectedError('missing-claim', k);
  if (!ok(v)) throw new RejectedError('bad-claim', k, what);
  return v;
}

const isName = (v: unknown): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH;
const isNumericDate = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Shape of the claims. `requireTimes`: iat and exp must be present (always, when signed). */
export function parseCommand(doc: Record<string, unknown>, requireTimes: boolean): Command {
  const id = need(doc, 'id', isName, `a string of 1-${MAX_ID_LENGTH} characters`);
  const plc = need(doc, 'plc', isName, 'a PLC id');
  const op = need(
    doc,
    'op',
    (v): v is 'write' | 'read' | 'sequence' => v === 'write' || v === 'read' || v === 'sequence',
    'write, read or sequence',
  );
  const times: Pick<Common, 'iat' | 'exp' | 'nbf'> = {};
  for (const k of ['iat', 'exp', 'nbf'] as const) {
    if (doc[k] === undefined || doc[k] === null) {
      if (requireTimes && k !== 'nbf') throw new RejectedError('missing-claim', k);
      continue;
    }
    if (!isNumericDate(doc[k]))
      throw new RejectedError('bad-claim', k, 'seconds since 1970 (NumericDate)');
    times[k] = doc[k];
  }
  if (op === 'write') {
    const values = need(doc, 'values', isObject, 'an object of tag: value');
    if (Object.keys(values).length === 0)
      throw new RejectedError('bad-claim', 'values', 'names no tag');
    return { id, plc, op, values, ...times };
  }
  if (op === 'sequence') return { id, plc, op, steps: parseSteps(doc.steps, isName), ...times };
  const tags = need(doc, 'tags', (v): v is unknown[] => Array.isArray(v), 'an array of tag names');
  if (tags.length === 0) throw new RejectedError('bad-claim', 'tags', 'names no tag');
  if (!tags.every(isName))
    throw new RejectedError('bad-claim', 'tags', 'every entry must be a tag name');
  return { id, plc, op, tags: [...new Set(tags as string[])], ...times };
}

export interface TimePolicy {
  nowSeconds: number;
  toleranceSeconds: number;
  maxLifetimeSeconds: number;
}

/** Expiry, not-yet-valid and lifetime. Lifetime is bounded so the replay cache is too. */
export function checkTimes(c: Pick<Common, 'iat' | 'exp' | 'nbf'>, p: TimePolicy): void {
  const { nowSeconds: now, toleranceSeconds: tol } = p;
  if (c.exp !== undefined && now - tol >= c.exp)
    throw new RejectedError(
      'expired',
      undefined,
      `exp ${c.exp} is ${Math.round(now - c.exp)} s ago`,
    );
  for (const k of ['iat', 'nbf'] as const) {
    const t = c[k];
    if (t !== undefined && t > now + tol)
      throw new RejectedError(
        'not-yet-valid',
        k,
        `${k} is ${Math.round(t - now)} s ahead of the gateway clock`,
      );
  }
  if (c.exp !== undefined && c.iat !== undefined && c.exp - c.iat > p.maxLifetimeSeconds)
    throw new RejectedError(
      'lifetime-too-long',
      undefined,
      `exp - iat = ${Math.round(c.exp - c.iat)} s > ${p.maxLifetimeSeconds} s`,
    );
}

/** The audit's `what`: PLC, op and the tags/values (process values, never secrets). */
export function summary(cmd: Command | undefined): Record<string, unknown> {
  if (!cmd) return {};
  return cmd.op === 'write'
    ? { plc: cmd.plc, op: cmd.op, values: cmd.values }
    : cmd.op === 'sequence'
      ? { plc: cmd.plc, op: cmd.op, steps: cmd.steps }
      : { plc: cmd.plc, op: cmd.op, tags: cmd.tags };
}
