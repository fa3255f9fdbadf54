// The persisted state of one rollout: written atomically (temp file, fsync, rename, fsync of the
// directory) after every step, so a rollout interrupted at any point resumes from its last step.
// A state file is input like any other: validated on load, with the field named on error.
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../../platform/atomic-file.js';
import { join } from 'node:path';
import { z } from 'zod';

const waveSpecSchema = z.strictObject({
  label: z.string(),
  tag: z.strictObject({ key: z.string(), value: z.string() }).optional(),
  percent: z.number().optional(),
});

const deviceSchema = z.strictObject({
  id: z.number().int(),
  uuid: z.string(),
  name: z.string(),
  /** What to pin back to: the device's pin before the rollout, else the release it ran. */
  previousPin: z.number().int().nullable(),
  previousRunning: z.number().int().nullable(),
  healthySince: z.number().nullable().default(null),
  failed: z.string().nullable().default(null),
});
export type WaveDevice = z.infer<typeof deviceSchema>;

export const WAVE_STATUSES = [
  'pending',
  'pinning',
  'soaking',
  'succeeded',
  'rolled-back',
  'aborted',
] as const;
export type WaveStatus = (typeof WAVE_STATUSES)[number];

const waveSchema = z.strictObject({
  spec: waveSpecSchema,
  status: z.enum(WAVE_STATUSES),
  startedAt: z.number().nullable().default(null),
  finishedAt: z.number().nullable().default(null),
  devices: z.array(deviceSchema),
});
export type WaveState = z.infer<typeof waveSchema>;

export const stateSchema = z.strictObject({
  format: z.literal(1),
  fleet: z.strictObject({ id: z.number().int(), slug: z.string() }),
  release: z.strictObject({
    id: z.number().int(),
    commit: z.string(),
    version: z.string().nullable(),
  }),
  plan: z.strictObject({
    soakMs: z.number(),
    successShare: z.number(),
    failureThreshold: z.number(),
    waveTimeoutMs: z.number(),
    pollMs: z.number(),
  }),
  status: z.enum(['running', 'completed', 'failed', 'aborted']),
  reason: z.string().nullable().default(null),
  currentWave: z.number().int().min(0),
  /** The process driving the rollout, so a second `start` does not run beside a live one. */
  pid: z.number().int().nullable().default(null),
  createdAt: z.number(),
  updatedAt: z.number(),
  waves: z.array(waveSchema).min(1),
});
export type RolloutState = z.infer<typeof stateSchema>;

export class StateFileError extends Error {
  override name = 'StateFileError';
}
export const isStateFileError = (e: unknown): e is StateFileError => e instanceof StateFileError;

export function defaultStatePath(dataDir: string): string {
  return join(dataDir, 'rollout', 'state.json');
}

/** The state, or null when there is no file. */
export function loadState(path: string): RolloutState | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StateFileError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new StateFileError(`${path}: not JSON`);
  }
  const r = stateSchema.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new StateFileError(`${path}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}

export function saveState(path: string, state: RolloutState): void {
  state.updatedAt = Date.now();
  writeFileAtomicSync(path, JSON.stringify(state, null, 2) + '\n', 0o600);
}
