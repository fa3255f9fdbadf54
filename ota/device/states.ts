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
  Verifying: ['Installing', 'Failed', 'Idle'],
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

/** Loop guard: a deployment making more transitions than this is aborted (Mender uses 28). */
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
