// The launcher's hands on the OTA state: read it (an unreadable file runs the factory slot rather than
// stopping the gateway), change it under the OTA lock (skipped, and logged, when another writer is
// busy), and roll back to the previous slot. The supervisor and the resume at start both use it.
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { isOtaStateError } from '../errors.js';
import { holdIfAsked } from '../device/hold.js';
import { withOtaLock } from '../device/op-lock.js';
import { slotEntry, type OtaPaths } from '../device/paths.js';
import { beginRollBack, finishRollBack } from '../device/slot-switch.js';
import { initialState, loadState, type OtaState } from '../device/state-store.js';

export type RollBackReason = NonNullable<OtaState['error']>['reason'];

export class LauncherOtaState {
  constructor(
    readonly paths: OtaPaths,
    private readonly factory: string,
    private readonly logger: Logger,
  ) {}

  /** An unreadable state file must not stop the gateway: the factory slot runs and the error is logged. */
  read(): OtaState {
    try {
      return loadState(this.paths);
    } catch (e) {
      if (!isOtaStateError(e)) throw e;
      this.logger.error(
        { err: e.message },
        'launcher: OTA state unreadable; running the factory slot',
      );
      return initialState();
    }
  }

  /** Run fn holding the OTA lock, with a fresh state read inside. Skips quietly when another writer is busy. */
  async exclusive(fn: (s: OtaState) => Promise<void> | void, waitMs?: number): Promise<boolean> {
    try {
      await withOtaLock(this.paths.lock, 'launcher', () => fn(this.read()), waitMs);
      return true;
    } catch (e) {
      // The launcher must outlive any state problem: log it and keep the agent running.
      if (isOtaStateError(e))
        this.logger.warn({ err: e.message }, 'launcher: OTA state busy or unreadable');
      else this.logger.error({ err: (e as Error).message }, 'launcher: OTA state change failed');
      return false;
    }
  }

  /** Back to the previous slot (or the factory slot when that one has no entry point). Under the lock. */
  async rollBack(s: OtaState, reason: RollBackReason, message: string): Promise<void> {
    const from = s.active;
    beginRollBack(this.paths, s, reason, message);
    await holdIfAsked('RollingBack');
    finishRollBack(
      this.paths,
      s,
      (slot) => slot === 'factory' || existsSync(slotEntry(this.paths, this.factory, slot)),
    );
    this.logger.error(
      { from, to: s.active, reason: s.error?.reason },
      `launcher rolled back: ${s.error?.message ?? message}`,
    );
  }
}
