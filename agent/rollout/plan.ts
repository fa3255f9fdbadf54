// A rollout plan: which release goes to which fleet, in which waves, gated how. Comes from a small
// YAML/JSON file and/or flags (flags win); every field validated with an error naming it.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const PLAN_DEFAULTS = {
  /** How long a wave's devices must stay on the release and report gw.health=ok. */
  soakMs: 10 * 60_000,
  /** Share of a wave that must pass the soak before the next wave starts. */
  successShare: 0.9,
  /** Share of a wave that failing stops the rollout and pins the wave back. */
  failureThreshold: 0.1,
  /** Longest a wave may take to reach the success share; then it counts as failed. */
  waveTimeoutMs: 60 * 60_000,
  /** How often the cloud API is asked about the wave's devices. */
  pollMs: 15_000,
} as const;

export interface WaveSpec {
  /** As written, e.g. `ring=canary`, `25%`, `ring=eu,50%`. */
  label: string;
  tag?: { key: string; value: string };
  /** Cumulative share of the fleet by stable hash of the uuid, 0 < percent <= 100. */
  percent?: number;
}

export interface RolloutPlan {
  fleet: string;
  release: string;
  waves: WaveSpec[];
  soakMs: number;
  successShare: number;
  failureThreshold: number;
  waveTimeoutMs: number;
  pollMs: number;
}

export class PlanError extends Error {
  override name = 'PlanError';
}
export const isPlanError = (e: unknown): e is PlanError => e instanceof PlanError;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `300ms`, `10s`, `5m`, `1h`; a bare number is seconds. */
export function parseDuration(v: string | number, field: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v * 1000;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(String(v));
  if (!m) throw new PlanError(`${field}: not a duration (e.g. 30s, 10m, 1h): ${String(v)}`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
}

/** `90%` or `0.9`, in (0, 1]. */
export function parseShare(v: string | number, field: string): number {
  const s = String(v).trim();
  const n = s.endsWith('%') ? Number(s.slice(0, -1)) / 100 : Number(s);
  if (!Number.isFinite(n) || n <= 0 || n > 1)
    throw new PlanError(`${field}: must be a share in (0, 1] such as 90% or 0.9: ${s}`);
  return n;
}

/** `ring=canary`, `25%`, `100%`, `all`, or both joined by a comma (`ring=eu,50%`). */
export function parseWave(spec: string, field = 'wave'): WaveSpec {
  const wave: WaveSpec = { label: spec.trim() };
  for (const part of spec.split(',').map((p) => p.trim())) {
    if (part === 'all') wave.percent = 100;
    else if (/^\d+(\.\d+)?%$/.test(part)) {
      const p = Number(part.slice(0, -1));
      if (p <= 0 || p > 100)
        throw new PlanError(`${field}: percentage must be in (0, 100]: ${part}`);
      wave.percent = p;
    } else if (/^[A-Za-z0-9_.:-]{1,100}=[^,]{1,255}$/.test(part)) {
      const i = part.indexOf('=');
      wave.tag = { key: part.slice(0, i), value: part.slice(i + 1) };
    } else throw new PlanError(`${field}: expected tag=value, N% or all: ${part}`);
  }
  if (!wave.tag && wave.percent === undefined) throw new PlanError(`${field}: empty wave`);
  return wave;
}

const fileSchema = z.strictObject({
  fleet: z.union([z.string().min(1), z.number().int()]).optional(),
  release: z.union([z.string().min(1), z.number().int()]).optional(),
  waves: z.array(z.string().min(1)).min(1).max(50).optional(),
  soak: z.union([z.string(), z.number()]).optional(),
  successShare: z.union([z.string(), z.number()]).optional(),
  failureThreshold: z.union([z.string(), z.number()]).optional(),
  waveTimeout: z.union([z.string(), z.number()]).optional(),
  poll: z.union([z.string(), z.number()]).optional(),
});
export type PlanInput = z.infer<typeof fileSchema>;

export function readPlanFile(path: string): PlanInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new PlanError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 10 });
  } catch (e) {
    throw new PlanError(`${path}: not YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = fileSchema.safeParse(doc ?? {});
  if (!r.success)
    throw new PlanError(
      `${path}: ` +
        r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
    );
  return r.data;
}

/** Merge a plan file and flags (flags win) into a complete, validated plan. */
export function buildPlan(file: PlanInput, flags: PlanInput): RolloutPlan {
  const m = {
    ...file,
    ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)),
  };
  if (m.fleet === undefined) throw new PlanError('fleet: required (--fleet or the plan file)');
  if (m.release === undefined)
    throw new PlanError('release: required (--release or the plan file)');
  const waves = (m.waves ?? ['100%']).map((w, i) => parseWave(w, `waves.${i}`));
  const plan: RolloutPlan = {
    fleet: String(m.fleet),
    release: String(m.release),
    waves,
    soakMs: m.soak === undefined ? PLAN_DEFAULTS.soakMs : parseDuration(m.soak, 'soak'),
    successShare:
      m.successShare === undefined
        ? PLAN_DEFAULTS.successShare
        : parseShare(m.successShare, 'successShare'),
    failureThreshold:
      m.failureThreshold === undefined
        ? PLAN_DEFAULTS.failureThreshold
        : parseShare(m.failureThreshold, 'failureThreshold'),
    waveTimeoutMs:
      m.waveTimeout === undefined
        ? PLAN_DEFAULTS.waveTimeoutMs
        : parseDuration(m.waveTimeout, 'waveTimeout'),
    pollMs: m.poll === undefined ? PLAN_DEFAULTS.pollMs : parseDuration(m.poll, 'poll'),
  };
  if (plan.pollMs < 10) throw new PlanError('poll: at least 10ms');
  if (plan.waveTimeoutMs <= plan.soakMs)
    throw new PlanError('waveTimeout: must be longer than soak');
  return plan;
}
