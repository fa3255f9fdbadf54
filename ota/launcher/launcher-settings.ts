// What the launcher is told: its bounds (from the `ota:` config, with defaults for the rest) and
// where the image and data are. Kept apart so main.ts reads them without the supervisor's logic.
import type { Logger } from 'pino';

export interface LauncherSettings {
  crashLoopExits: number;
  crashLoopWindowMs: number;
  minHealthySeconds: number;
  probationGraceSeconds: number;
  /** Time the child gets after SIGTERM before SIGKILL (balena's own grace is 10 s). */
  stopGraceMs: number;
  /** Pause before restarting a child that exited. */
  restartDelayMs: number;
  /** How often the state file and probation are checked. */
  pollMs: number;
}

export const DEFAULT_LAUNCHER: Omit<
  LauncherSettings,
  'crashLoopExits' | 'crashLoopWindowMs' | 'minHealthySeconds' | 'probationGraceSeconds'
> = {
  stopGraceMs: 8000,
  restartDelayMs: 500,
  pollMs: 250,
};

export interface LauncherOptions {
  dataDir: string;
  factory: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  settings: LauncherSettings;
  logger: Logger;
}
