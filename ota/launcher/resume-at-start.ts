// What the launcher finishes when it starts after a restart or a power cut, before running any agent.
import type { Logger } from 'pino';
import { holdIfAsked } from '../device/hold.js';
import { completeSwitch } from '../device/slot-switch.js';
import { isLoopGuardError, move, saveState } from '../device/state-store.js';
import { resumeRule, waitsForWindow } from '../device/states.js';
import { NO_HEALTH } from './health-message.js';
import type { LauncherOtaState } from './launcher-ota-state.js';

/** Lock wait at start: longer than an orphaned agent's shutdown grace (8 s). */
const RECOVERY_LOCK_WAIT_MS = 12_000;

/**
 * The launcher's share of the resume table (states.ts RESUME): working phases of both targets are
 * interrupted, agent Switching/Probation/RollingBack are finished here; PLC-map phases are left to
 * the agent, which loads the candidate map and resumes them (ota/plc-map/map-deployment.ts).
 * Waits longer than usual for the lock: an agent orphaned by a killed launcher may still be
 * shutting down with the lock held (its SIGTERM grace), and a stale lock is taken over after.
 */
export async function resumeAtStart(
  ota: LauncherOtaState,
  crashLoopExits: number,
  logger: Logger,
): Promise<void> {
  const paths = ota.paths;
  await ota.exclusive(async (s) => {
    const rule = resumeRule(s.phase, s.update?.target);
    if (rule.by !== 'launcher' || rule.action === 'none') return;
    // A switch waiting for its maintenance window keeps waiting: the tick switches it inside it.
    if (waitsForWindow(s)) return;
    logger.warn(
      { phase: s.phase, target: s.update?.target ?? 'agent', action: rule.action },
      'launcher resuming the OTA state after a restart',
    );
    try {
      if (rule.action === 'interrupt') {
        s.error = {
          reason: 'interrupted',
          message: `interrupted in ${s.phase} by a restart; slot ${s.active} was not touched; offer the update again to resume`,
        };
        move(paths, s, 'Failed', { message: s.error.message, reason: 'interrupted' });
      } else if (rule.action === 'complete-switch') {
        completeSwitch(paths, s, s.update?.baseline ?? NO_HEALTH);
        await holdIfAsked('Probation');
      } else if (rule.action === 'restart-probation') {
        const p = s.update!.probation!;
        p.boots += 1;
        if (p.boots > crashLoopExits)
          await ota.rollBack(s, 'crash-loop', `restarted ${p.boots - 1} times during probation`);
        else {
          saveState(paths, s); // counted by the loop guard
          logger.warn(
            { slot: s.active, boots: p.boots },
            'launcher restarted during probation; probation starts again',
          );
        }
      } else
        await ota.rollBack(s, s.error?.reason ?? 'interrupted', 'rollback resumed after a restart');
    } catch (e) {
      if (!isLoopGuardError(e)) throw e;
      await ota.rollBack(s, 'loop-guard', e.message);
    }
  }, RECOVERY_LOCK_WAIT_MS);
}
