// The shape of an `op: sequence` command's steps (CONTRACT.md §8): the handshake a WMS runs with a PLC —
// write an order, raise a strobe, wait for the PLC's acknowledge bit, read the result. Shape only here;
// tags, values and bounds are checked against the PLC and the settings before the ack (checkSequence).
import { RejectedError } from './rejection.js';

export type SequenceStep =
  | { write: Record<string, unknown> }
  | { waitFor: WaitFor }
  | { read: string[] }
  | { delayMs: number };

export interface WaitFor {
  tag: string;
  op: 'equals' | 'atLeast' | 'atMost';
  value: number | boolean | string;
  timeoutMs: number;
}

/** Parser bound, before the settings' own (commands.maxSequenceSteps): a hostile array is refused early. */
export const MAX_STEPS_PARSED = 1000;
const CONDITIONS = ['equals', 'atLeast', 'atMost'] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isMs = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 86_400_000;

export function parseSteps(v: unknown, isName: (v: unknown) => v is string): SequenceStep[] {
  if (v === undefined || v === null) throw new RejectedError('missing-claim', 'steps');
  if (!Array.isArray(v)) throw new RejectedError('bad-claim', 'steps', 'an array of steps');
  if (v.length === 0) throw new RejectedError('bad-claim', 'steps', 'names no step');
  if (v.length > MAX_STEPS_PARSED)
    throw new RejectedError('too-many-steps', 'steps', `${v.length} steps`);
  return v.map((s, i) => parseStep(s, `steps.${i}`, isName));
}

function parseStep(s: unknown, at: string, isName: (v: unknown) => v is string): SequenceStep {
  if (!isObject(s) || Object.keys(s).length !== 1)
    throw new RejectedError('bad-claim', at, 'one of write, waitFor, read, delayMs');
  if ('write' in s) {
    if (!isObject(s.write) || Object.keys(s.write).length === 0)
      throw new RejectedError('bad-claim', `${at}.write`, 'an object of tag: value');
    return { write: s.write };
  }
  if ('read' in s) {
    const r = s.read;
    if (!Array.isArray(r) || r.length === 0 || !r.every(isName))
      throw new RejectedError('bad-claim', `${at}.read`, 'an array of tag names');
    return { read: [...new Set(r)] };
  }
  if ('delayMs' in s) {
    if (!isMs(s.delayMs))
      throw new RejectedError('bad-claim', `${at}.delayMs`, 'milliseconds (an integer >= 0)');
    return { delayMs: s.delayMs };
  }
  if ('waitFor' in s) {
    const w = s.waitFor;
    if (!isObject(w)) throw new RejectedError('bad-claim', `${at}.waitFor`, 'an object');
    if (!isName(w.tag)) throw new RejectedError('bad-claim', `${at}.waitFor.tag`, 'a tag name');
    const conds = CONDITIONS.filter((c) => w[c] !== undefined);
    if (conds.length !== 1)
      throw new RejectedError(
        'bad-claim',
        `${at}.waitFor`,
        'exactly one of equals, atLeast, atMost',
      );
    const op = conds[0]!;
    const value = w[op];
    const ok =
      op === 'equals'
        ? typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string'
        : typeof value === 'number' && Number.isFinite(value);
    if (!ok)
      throw new RejectedError(
        'bad-claim',
        `${at}.waitFor.${op}`,
        op === 'equals' ? 'a number, boolean or string' : 'a number',
      );
    if (!isMs(w.timeoutMs) || w.timeoutMs === 0)
      throw new RejectedError(
        'bad-claim',
        `${at}.waitFor.timeoutMs`,
        'milliseconds (an integer > 0)',
      );
    return {
      waitFor: { tag: w.tag, op, value: value as WaitFor['value'], timeoutMs: w.timeoutMs },
    };
  }
  throw new RejectedError('bad-claim', at, 'one of write, waitFor, read, delayMs');
}

/** Short text of a step for results and logs, e.g. `waitFor ack equals true`. */
export function describeStep(s: SequenceStep): string {
  if ('write' in s) return `write ${Object.keys(s.write).join(',')}`;
  if ('read' in s) return `read ${s.read.join(',')}`;
  if ('delayMs' in s) return `delay ${s.delayMs} ms`;
  return `waitFor ${s.waitFor.tag} ${s.waitFor.op} ${String(s.waitFor.value)}`;
}
