// Running an `op: sequence` command: its steps in order (the caller holds one update lock around all of
// them), waitFor polled at the pace of the tag's own poll group (never a busy loop), the first failing step
// ends it, every step gets an entry in cmd/result. checkSequence is the check before the ack.
import type { PlcConfig, TagConfig } from '../../plc/config/schema.js';
import type { CommandsSettings, CommandTarget } from './command-ports.js';
import { RejectedError } from './rejection.js';
import { describeError } from './result-values.js';
import { describeStep, type SequenceStep, type WaitFor } from './sequence-claims.js';
import { checkRead, checkWrite, tagIndex } from './value-check.js';

export interface StepResult {
  step: number;
  op: 'write' | 'waitFor' | 'read' | 'delay';
  what: string;
  status: 'ok' | 'error' | 'skipped';
  values?: Record<string, unknown>;
  error?: string;
  ms?: number;
}

export interface SequenceOutcome {
  status: 'ok' | 'error';
  steps: StepResult[];
  values: Record<string, unknown>;
  error?: string;
}

/** The quickest waitFor poll, whatever the tag's group says. */
export const MIN_WAIT_POLL_MS = 10;

/** Before the ack: bounds, and every step's tags and values as a write or read of its own would be. */
export function checkSequence(
  plc: PlcConfig,
  steps: SequenceStep[],
  s: Pick<CommandsSettings, 'maxSequenceSteps' | 'maxSequenceMs'>,
): void {
  if (steps.length > s.maxSequenceSteps)
    throw new RejectedError(
      'too-many-steps',
      undefined,
      `${steps.length} steps > commands.maxSequenceSteps ${s.maxSequenceSteps}`,
    );
  let waits = 0;
  const tags = tagIndex(plc);
  steps.forEach((step, i) => {
    if ('write' in step) checkWrite(plc, step.write);
    else if ('read' in step) checkRead(plc, step.read);
    else if ('delayMs' in step) waits += step.delayMs;
    else {
      const w = step.waitFor;
      checkRead(plc, [w.tag]);
      const t = tags.get(w.tag)!;
      if (w.op !== 'equals' && !isNumericTag(t))
        throw new RejectedError('bad-claim', `steps.${i}.waitFor`, `${w.op} needs a numeric tag`);
      waits += w.timeoutMs;
    }
  });
  if (waits > s.maxSequenceMs)
    throw new RejectedError(
      'sequence-too-long',
      undefined,
      `waits and delays add up to ${waits} ms > commands.maxSequenceMs ${s.maxSequenceMs}`,
    );
}

export async function runSequence(
  steps: SequenceStep[],
  target: CommandTarget,
  o: { readBack: boolean; maxMs: number; now?: () => number },
): Promise<SequenceOutcome> {
  const now = o.now ?? Date.now;
  const deadline = now() + o.maxMs;
  const results: StepResult[] = steps.map((s, i) => ({
    step: i,
    op: 'write' in s ? 'write' : 'read' in s ? 'read' : 'delayMs' in s ? 'delay' : 'waitFor',
    what: describeStep(s),
    status: 'skipped',
  }));
  const values: Record<string, unknown> = {};
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const r = results[i]!;
    const t0 = now();
    try {
      if (t0 >= deadline)
        throw new SequenceTimeout(`commands.maxSequenceMs ${o.maxMs} reached before this step`);
      let got: Record<string, unknown> | undefined;
      if ('write' in step) got = (await target.write(step.write, { readBack: o.readBack })).values;
      else if ('read' in step) got = await target.read(step.read);
      else if ('delayMs' in step) {
        if (t0 + step.delayMs > deadline)
          throw new SequenceTimeout(`a ${step.delayMs} ms delay passes commands.maxSequenceMs`);
        await sleep(step.delayMs);
      } else
        got = await waitFor(
          step.waitFor,
          target,
          Math.min(deadline, t0 + step.waitFor.timeoutMs),
          now,
        );
      r.status = 'ok';
      if (got) {
        r.values = got;
        Object.assign(values, got);
      }
    } catch (e) {
      r.status = 'error';
      r.error = describeError(e);
    }
    r.ms = now() - t0;
    if (r.status === 'error')
      return {
        status: 'error',
        steps: results,
        values,
        error: `step ${i} (${r.what}): ${r.error}`,
      };
  }
  return { status: 'ok', steps: results, values };
}

/** Read the tag at its poll group's pace until the condition holds or `until` passes. */
async function waitFor(
  w: WaitFor,
  target: CommandTarget,
  until: number,
  now: () => number,
): Promise<Record<string, unknown>> {
  const pace = Math.max(MIN_WAIT_POLL_MS, pollInterval(target.config, w.tag));
  for (;;) {
    const v = (await target.read([w.tag]))[w.tag];
    if (holds(w, v)) return { [w.tag]: v };
    if (now() + pace > until)
      throw new SequenceTimeout(
        `${w.tag} not ${w.op} ${String(w.value)} within ${w.timeoutMs} ms (last value ${String(v)})`,
      );
    await sleep(pace);
  }
}

function holds(w: WaitFor, v: unknown): boolean {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (w.op === 'equals') {
    if (typeof n === 'boolean' && typeof w.value === 'number') return Number(n) === w.value;
    if (typeof n === 'number' && typeof w.value === 'boolean') return n === Number(w.value);
    return n === w.value;
  }
  if (typeof n !== 'number' || typeof w.value !== 'number') return false;
  return w.op === 'atLeast' ? n >= w.value : n <= w.value;
}

function pollInterval(plc: PlcConfig, tag: string): number {
  for (const g of plc.groups) if (g.tags.some((t) => t.name === tag)) return g.intervalMs;
  return 100;
}

function isNumericTag(t: TagConfig): boolean {
  return t.type !== 'string' && t.type !== 'bool' && t.type !== 'bit';
}

/** A waitFor or delay that ran out of time (its own timeoutMs or commands.maxSequenceMs). */
export class SequenceTimeout extends Error {
  readonly code = 'timeout';
  constructor(message: string) {
    super(message);
    this.name = 'SequenceTimeout';
  }
}
export function isSequenceTimeout(e: unknown): e is SequenceTimeout {
  return e instanceof SequenceTimeout;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
