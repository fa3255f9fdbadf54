// The update as an explicit state machine (after Mender): named phases, persisted on entry, and
// the transitions table below is the whole story. docs/ota.md §States explains each one.

export const PHASES = [
  'Idle', // nothing in progress; the active slot runs
  'Downloading', // fetching the bundle (resumable by Range)
  'Verifying', // signature, key, validity, counter, requires, device type, targeting, tar entries, hashes
  'Installing', // config backed up; tree built in the inactive slot's staging dir, re-hashed, renamed into place
  'Switching', // slot ready; the launcher (agent) or OtaAgent (plc-map) makes it active
  'Probation', // new slot runs; must stay healthy for ota.minHealthySeconds
  'Committed', // the new slot passed probation
  'RollingBack', // restoring the previous slot and the config backup
  'Failed', // the update was refused or rolled back; error says why
] as const;
export type Phase = (typeof PHASES)[number];

/** Allowed moves. Resting phases (Idle, Committed, Failed) may start a new deployment. */
export const TRANSITIONS: Record<Phase, readonly Phase[]> = {
  Idle: ['Downloading', 'Verifying', 'Failed'],
  Downloading: ['Verifying', 'Failed', 'Idle'],
  // Verifying → Downloading: a delta for another base falls back to the full bundle (fullUrl).
  Verifying: ['Installing', 'Downloading', 'Failed', 'Idle'],
  Installing: ['Switching', 'Failed', 'Idle'],
  Switching: ['Probation', 'RollingBack'],
  Probation: ['Committed', 'RollingBack'],
  Committed: ['Downloading', 'Verifying', 'Failed', 'RollingBack'],
  RollingBack: ['Failed'],
  Failed: ['Downloading', 'Verifying', 'Failed', 'RollingBack'],
};

/** Phases the launcher drives for agent bundles; OtaAgent and the CLI never write in them. */
export const LAUNCHER_PHASES: readonly Phase[] = ['Switching', 'Probation', 'RollingBack'];
/** Phases of a running download/verify/install: a process holding the OTA lock owns them. */
export const WORKING_PHASES: readonly Phase[] = ['Downloading', 'Verifying', 'Installing'];
export const RESTING_PHASES: readonly Phase[] = ['Idle', 'Committed', 'Failed'];

export type Target = 'agent' | 'plc-map';

/**
 * What happens to each phase after a restart (launcher killed, power cut, agent crash), for both
 * targets: who resumes it and how. The launcher runs first at every start; the agent, once the
 * launcher started it. `ota/device/recovery.ts` carries these out; docs/ota.md §States lists them.
 */
export type ResumeAction =
  | 'none' // a resting phase
  | 'interrupt' // → Failed (interrupted): nothing was switched, the offer can be sent again
  | 'complete-switch' // → Probation: the switch is finished (agent: slot made active; map: candidate in force)
  | 'restart-probation' // probation starts again; one more boot counted; too many boots → RollingBack (crash-loop)
  | 'finish-rollback'; // the previous slot or map is put back → Failed

export interface ResumeRule {
  by: 'launcher' | 'agent';
  action: ResumeAction;
}

const rest: ResumeRule = { by: 'launcher', action: 'none' };
const interrupt: ResumeRule = { by: 'launcher', action: 'interrupt' };
export const RESUME: Record<Phase, Record<Target, ResumeRule>> = {
  Idle: { agent: rest, 'plc-map': rest },
  Committed: { agent: rest, 'plc-map': rest },
  Failed: { agent: rest, 'plc-map': rest },
  Downloading: { agent: interrupt, 'plc-map': interrupt },
  Verifying: { agent: interrupt, 'plc-map': interrupt },
  Installing: { agent: interrupt, 'plc-map': interrupt },
  // The agent slot is switched by the launcher, before any agent runs; a PLC map is switched by the
  // agent, which loads the candidate map at start (ota/plc-map/map-in-force.ts).
  Switching: {
    agent: { by: 'launcher', action: 'complete-switch' },
    'plc-map': { by: 'agent', action: 'complete-switch' },
  },
  Probation: {
    agent: { by: 'launcher', action: 'restart-probation' },
    'plc-map': { by: 'agent', action: 'restart-probation' },
  },
  RollingBack: {
    agent: { by: 'launcher', action: 'finish-rollback' },
    'plc-map': { by: 'agent', action: 'finish-rollback' },
  },
};

export function resumeRule(phase: Phase, target: Target | undefined): ResumeRule {
  return RESUME[phase][target ?? 'agent'];
}

/**
 * Loop guard: a deployment making more persisted saves than this (moves and restarts alike) is
 * aborted (Mender uses 28).
 */
export const MAX_TRANSITIONS = 28;

export class TransitionError extends Error {
  constructor(
    readonly from: Phase,
    readonly to: Phase,
  ) {
    super(`OTA state machine: ${from} → ${to} is not allowed`);
    this.name = 'TransitionError';
  }
}

export function isTransitionError(e: unknown): e is TransitionError {
  return e instanceof TransitionError;
}

export function canTransition(from: Phase, to: Phase): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * An agent update in Switching that waits for its maintenance window (update.switchWindow): not yet
 * inside it, the launcher leaves it alone (no switch, no balena update lock). Past its end, the agent
 * moves it to the next window.
 */
export function waitsForWindow(
  s: { phase: Phase; update?: { target?: Target; switchWindow?: { start: string; end: string } } },
  now = Date.now(),
): boolean {
  const w = s.update?.switchWindow;
  if (s.phase !== 'Switching' || s.update?.target === 'plc-map' || !w) return false;
  return !(Date.parse(w.start) <= now && now < Date.parse(w.end));
}
