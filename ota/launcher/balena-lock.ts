// The launcher's hold on balena's update lock (the file BALENA_APP_LOCK_PATH names; balena sets it):
// taken when an agent switch begins and kept through the end of probation, so the supervisor does
// not restart or update the container between the switch and the commit or rollback. The stamp is
// the agent's own format (agent/balena/update-lock.ts) with `holder: "launcher"`: the agent, our
// child, sees its launcher's lock as its own and runs its commands under it rather than waiting.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';

export const LAUNCHER_HOLDER = 'launcher';

export class LauncherUpdateLock {
  private readonly instance = randomUUID();
  held = false;

  /** `path` undefined: not under balena, nothing to hold. */
  constructor(private readonly path: string | undefined) {}

  /** Take the lock if free (or already ours). False: someone else (the supervisor) holds it. */
  take(): boolean {
    if (!this.path || this.held) return true;
    mkdirSync(dirname(this.path), { recursive: true });
    try {
      const fd = openSync(this.path, 'wx', 0o644);
      writeSync(
        fd,
        JSON.stringify({
          owner: 'wms-gateway',
          holder: LAUNCHER_HOLDER,
          pid: process.pid,
          instance: this.instance,
          since: new Date().toISOString(),
        }) + '\n',
      );
      fsyncSync(fd);
      closeSync(fd);
      this.held = true;
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock a previous launcher (killed) left behind is ours to take over; anyone else's is not.
      if (this.stamp()?.holder === LAUNCHER_HOLDER && this.stamp()?.instance !== this.instance) {
        unlinkSync(this.path);
        return this.take();
      }
      return false;
    }
  }

  release(): void {
    if (!this.path || !this.held) return;
    this.held = false;
    if (this.stamp()?.instance !== this.instance) return;
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }

  /** At start with nothing in flight: a launcher lock left by a killed launcher is removed. */
  clearStale(): void {
    if (!this.path || this.held) return;
    if (this.stamp()?.holder !== LAUNCHER_HOLDER) return;
    try {
      unlinkSync(this.path);
    } catch {
      /* gone */
    }
  }

  private stamp(): { holder?: string; instance?: string } | undefined {
    try {
      return JSON.parse(readFileSync(this.path!, 'utf8')) as { holder?: string; instance?: string };
    } catch {
      return undefined;
    }
  }
}
