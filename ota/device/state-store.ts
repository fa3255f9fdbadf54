// The persisted OTA state ($DATA_DIR/ota/state.json): phase, slots, the update in flight, history.
// Every write is atomic (tmp + fsync + rename + fsync dir), so a power cut leaves the old or the new file.
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { REFUSAL_REASONS, OtaStateError } from '../errors.js';
import { writeFileAtomicSync, WORLD_READABLE } from '../../platform/atomic-file.js';
import type { OtaPaths } from './paths.js';
import {
  PHASES,
  MAX_TRANSITIONS,
  RESTING_PHASES,
  TransitionError,
  canTransition,
  type Phase,
} from './states.js';

/** History entries kept in state.json (older ones are dropped). */
export const HISTORY_LIMIT = 200;

const slotName = z.enum(['factory', 'a', 'b']);
const health = z.object({ plcsOk: z.number(), plcsTotal: z.number(), wmsConnected: z.boolean() });
export type Health = z.infer<typeof health>;

const slotInfo = z.object({
  name: z.string(),
  version: z.string(),
  counter: z.number(),
  treeSha256: z.string(),
  installedAt: z.string(),
});
export type SlotInfo = z.infer<typeof slotInfo>;

/** ota/state `error.reason`: a refusal, or why an update was rolled back (docs/reason-codes.md). */
export const OTA_ERROR_REASONS = [
  ...REFUSAL_REASONS,
  'crash-loop',
  'unhealthy',
  'manual',
  'loop-guard',
  'interrupted',
] as const;

const error = z.object({
  reason: z.enum(OTA_ERROR_REASONS),
  message: z.string(),
});
export type OtaErrorInfo = z.infer<typeof error>;

const update = z.object({
  id: z.string(),
  name: z.string().optional(),
  version: z.string().optional(),
  counter: z.number().optional(),
  kind: z.enum(['full', 'delta']).optional(),
  target: z.enum(['agent', 'plc-map']).optional(),
  source: z.object({ url: z.string().optional(), file: z.string().optional() }),
  offerJws: z.string().optional(),
  slot: z.enum(['a', 'b']).optional(),
  fromSlot: slotName.optional(),
  configBackup: z.object({ path: z.string(), backup: z.string() }).optional(),
  /** Health of the old slot when the update started: the new slot must be at least as good. */
  baseline: health.optional(),
  probation: z.object({ startedAt: z.string(), boots: z.number(), baseline: health }).optional(),
  /** Switching waits for this maintenance window (ISO times): the launcher switches only inside it. */
  switchWindow: z.object({ start: z.string(), end: z.string() }).optional(),
  startedAt: z.string(),
});
export type UpdateInfo = z.infer<typeof update>;

const historyEntry = z.object({
  ts: z.string(),
  from: z.enum(PHASES),
  to: z.enum(PHASES),
  update: z.string().optional(),
  active: slotName,
  reason: z.string().optional(),
  message: z.string(),
});
export type HistoryEntry = z.infer<typeof historyEntry>;

export const stateSchema = z.object({
  format: z.literal(1),
  phase: z.enum(PHASES),
  active: slotName,
  previous: slotName,
  slots: z.object({ a: slotInfo.nullable(), b: slotInfo.nullable() }),
  update: update.optional(),
  progress: z.number(),
  error: error.optional(),
  transitions: z.number(),
  history: z.array(historyEntry),
  plcMap: z.object({ name: z.string(), version: z.string(), counter: z.number() }).optional(),
  /** ts of the last rollback already raised as an alert (so each rollback alerts once). */
  alertedRollback: z.string().optional(),
});
export type OtaState = z.infer<typeof stateSchema>;

export function initialState(): OtaState {
  return {
    format: 1,
    phase: 'Idle',
    active: 'factory',
    previous: 'factory',
    slots: { a: null, b: null },
    progress: 0,
    transitions: 0,
    history: [],
  };
}

export function loadState(paths: OtaPaths): OtaState {
  if (!existsSync(paths.state)) return initialState();
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(paths.state, 'utf8'));
  } catch (e) {
    throw new OtaStateError(`${paths.state}: not JSON (${(e as Error).message})`);
  }
  const res = stateSchema.safeParse(doc);
  if (!res.success) {
    const i = res.error.issues[0]!;
    throw new OtaStateError(`${paths.state}: ${i.path.join('.')}: ${i.message}`);
  }
  return res.data;
}

function writeState(paths: OtaPaths, s: OtaState): void {
  writeFileAtomicSync(paths.state, JSON.stringify(s, null, 1) + '\n', WORLD_READABLE);
}

/** Thrown when a deployment made more persisted saves than MAX_TRANSITIONS: it is looping. */
export class LoopGuardError extends Error {
  constructor(readonly saves: number) {
    super(`loop guard: ${saves} saves in one deployment (limit ${MAX_TRANSITIONS})`);
    this.name = 'LoopGuardError';
  }
}

export function isLoopGuardError(e: unknown): e is LoopGuardError {
  return e instanceof LoopGuardError;
}

/**
 * Persist a change that is not a phase move (a restart counted in probation, a resumed phase). Like
 * Mender's state-data store count, every save of a deployment in flight counts towards the loop
 * guard, restarts included, so a restart loop cannot escape it. Throws LoopGuardError past the
 * limit (after saving, so the count itself survives).
 */
export function saveState(paths: OtaPaths, s: OtaState): void {
  const inFlight = !RESTING_PHASES.includes(s.phase);
  if (inFlight) s.transitions += 1;
  writeState(paths, s);
  if (inFlight && s.transitions > MAX_TRANSITIONS && s.phase !== 'RollingBack')
    throw new LoopGuardError(s.transitions);
}

export interface MoveOptions {
  message: string;
  reason?: string;
  /** Skip the table check (recovery after a crash records what happened). */
  force?: boolean;
}

/**
 * Move to `to`, record the move in the history and persist. Throws TransitionError for a move the
 * table forbids and when the loop guard trips.
 */
export function move(paths: OtaPaths, s: OtaState, to: Phase, opts: MoveOptions): OtaState {
  if (!opts.force && !canTransition(s.phase, to)) throw new TransitionError(s.phase, to);
  const startsDeployment =
    (to === 'Downloading' || to === 'Verifying') &&
    ['Idle', 'Committed', 'Failed'].includes(s.phase);
  // The count starts again only when a new deployment starts from a resting phase; every other move
  // and every restart (saveState) adds to it.
  s.transitions = startsDeployment ? 1 : s.transitions + 1;
  if (s.transitions > MAX_TRANSITIONS && to !== 'Failed' && to !== 'RollingBack')
    throw new LoopGuardError(s.transitions);
  const entry: HistoryEntry = {
    ts: new Date().toISOString(),
    from: s.phase,
    to,
    active: s.active,
    message: opts.message,
    ...(s.update ? { update: s.update.id } : {}),
    ...(opts.reason ? { reason: opts.reason } : {}),
  };
  s.phase = to;
  s.history = [...s.history, entry].slice(-HISTORY_LIMIT);
  writeState(paths, s);
  return s;
}
