// A PLC-map deployment inside the running agent, phase by phase as the resume table in
// ota/device/states.ts says: Switching (candidate staged, map applied) → Probation (PLC links at least
// as good as before for ota.minHealthySeconds) → Committed, or RollingBack (previous map re-applied)
// → Failed. Every phase is persisted; after a restart the agent resumes it (resume()), and a rollback
// asked for by someone else (`ota rollback`, the launcher's crash-loop guard) is finished here.
import { readFileSync, existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { PlcConfig } from '../../plc/config/schema.js';
import type { Manifest } from '../bundle/manifest.js';
import { writeFileAtomicSync, WORLD_READABLE } from '../../platform/atomic-file.js';
import { holdIfAsked } from '../device/hold.js';
import { withOtaLock } from '../device/op-lock.js';
import { otaPaths, type OtaPaths } from '../device/paths.js';
import { raiseCounter } from '../device/policy.js';
import { isHealthyAgainst } from '../device/slot-switch.js';
import {
  isLoopGuardError,
  loadState,
  move,
  saveState,
  type Health,
  type OtaState,
} from '../device/state-store.js';
import { resumeRule } from '../device/states.js';
import { publish, step, type UpdaterContext } from '../device/updater.js';
import { parsePlcMap } from './plc-map.js';
import {
  dropCandidate,
  promoteCandidate,
  readCandidate,
  readPrevious,
  restorePrevious,
  stageCandidate,
} from './map-store.js';

export interface PlcMapHooks {
  apply: (plcs: PlcConfig[]) => Promise<void>;
  /** The map running now (restored on rollback). */
  current?: () => PlcConfig[];
  health: () => Health;
  /** Health over some PLCs only: a map is judged on the PLCs it keeps (added ones have no "before"). */
  healthOf?: (plcIds: readonly string[]) => Health;
  minHealthySeconds: number;
  probationGraceSeconds: number;
  /** Restarts of the agent during a map's probation before it is rolled back (ota.crashLoop.exits). */
  maxBoots: number;
  /** How often health is sampled during probation (ms). */
  sampleMs?: number;
  /** balena update lock: held from the switch through the end of probation. */
  lock?: { withLock<T>(reason: string, fn: () => Promise<T>): Promise<T> };
  logger: Logger;
}

type Reason = NonNullable<OtaState['error']>['reason'];
const ZERO: Health = { plcsOk: 0, plcsTotal: 0, wmsConnected: false };

const isMapPhase = (s: OtaState, ...phases: OtaState['phase'][]) =>
  s.update?.target === 'plc-map' && phases.includes(s.phase);

export class PlcMapDeployment {
  constructor(
    private readonly ctx: () => UpdaterContext,
    private readonly hooks: PlcMapHooks,
  ) {}

  private get paths(): OtaPaths {
    return otaPaths(this.ctx().dataDir);
  }

  /** Installing → Switching → Probation, called by the updater with the OTA lock held. */
  readonly install: NonNullable<UpdaterContext['installPlcMap']> = async (
    m: Manifest,
    map,
    s,
    paths,
  ) => {
    const plcs = parsePlcMap(map.text, m.files[0]!.path);
    const previous = {
      plcMap: s.plcMap ?? null,
      plcs: this.hooks.current?.() ?? readPrevious(paths)?.plcs ?? [],
    };
    const baseline = this.healthKept(previous.plcs, plcs);
    s.update!.baseline = baseline;
    stageCandidate(paths, previous, plcs, map.tree);
    raiseCounter(paths, 'plc-map', m.counter);
    await step(
      this.ctx(),
      paths,
      s,
      'Switching',
      `applying PLC map ${m.name} ${m.version} (${plcs.length} PLCs)`,
    );
    try {
      await this.hooks.apply(plcs);
    } catch (e) {
      return this.rollBackHeld(
        s,
        'install-failed',
        `applying the map failed: ${(e as Error).message}`,
      );
    }
    s.update!.probation = { startedAt: new Date().toISOString(), boots: 1, baseline };
    await step(
      this.ctx(),
      paths,
      s,
      'Probation',
      `PLC map ${m.version} applied; probation ${this.hooks.minHealthySeconds} s against ${JSON.stringify(baseline)}`,
    );
  };

  /**
   * Health over the PLCs both maps have: a PLC the new map removes would otherwise always count as
   * lost, and one it adds has no "before" to compare with. Without healthOf (or with no previous map
   * known), the gateway's whole health.
   */
  private healthKept(previous: readonly PlcConfig[], next: readonly PlcConfig[]): Health {
    const h = this.hooks;
    if (!h.healthOf || previous.length === 0) return h.health();
    const before = new Set(previous.map((p) => p.id));
    return h.healthOf(next.map((p) => p.id).filter((id) => before.has(id)));
  }

  /** At agent start: the agent's share of the resume table, then probation if one is running. */
  async resume(): Promise<void> {
    let probe = false;
    await this.locked(async (s) => {
      const rule = resumeRule(s.phase, s.update?.target);
      if (rule.by !== 'agent' || s.update?.target !== 'plc-map') return;
      this.hooks.logger.warn(
        { phase: s.phase, action: rule.action },
        'ota resuming a PLC-map deployment',
      );
      if (rule.action === 'finish-rollback')
        return this.rollBackHeld(
          s,
          s.error?.reason ?? 'interrupted',
          'rollback resumed after a restart',
        );
      const candidate = readCandidate(this.paths);
      if (!candidate)
        return this.rollBackHeld(s, 'interrupted', 'the candidate PLC map is gone after a restart');
      try {
        if (rule.action === 'complete-switch') {
          await this.ensureApplied(candidate);
          const baseline = s.update.baseline ?? ZERO;
          s.update.probation = { startedAt: new Date().toISOString(), boots: 1, baseline };
          move(this.paths, s, 'Probation', {
            message: `PLC map ${s.update.version} in force after a restart; probation`,
          });
        } else if (rule.action === 'restart-probation') {
          const p = s.update.probation!;
          p.boots += 1;
          if (p.boots > this.hooks.maxBoots)
            return this.rollBackHeld(
              s,
              'crash-loop',
              `the agent restarted ${p.boots - 1} times during the PLC map's probation`,
            );
          saveState(this.paths, s); // counted by the loop guard
          await this.ensureApplied(candidate);
        }
      } catch (e) {
        if (!isLoopGuardError(e)) throw e;
        return this.rollBackHeld(s, 'loop-guard', e.message);
      }
      publish(this.ctx(), s);
      probe = true;
    });
    if (probe) await this.probation();
  }

  /**
   * Judge probation until it is decided. The OTA lock is not held while waiting, so `ota rollback`
   * can step in; the balena update lock is (no supervisor update in the middle of a probation).
   */
  async probation(): Promise<void> {
    const run = async () => {
      const start = Date.now();
      let since: number | undefined;
      const h = this.hooks;
      for (;;) {
        const s = loadState(this.paths);
        if (!isMapPhase(s, 'Probation')) return this.finishIfRollingBack();
        const baseline = s.update?.probation?.baseline ?? ZERO;
        const now = Date.now();
        const health = this.healthKept(
          readPrevious(this.paths)?.plcs ?? [],
          readCandidate(this.paths) ?? [],
        );
        since = isHealthyAgainst(health, baseline) ? (since ?? now) : undefined;
        if (since !== undefined && now - since >= h.minHealthySeconds * 1000)
          return this.locked((x) => (isMapPhase(x, 'Probation') ? this.commitHeld(x) : undefined));
        if (now - start > (h.minHealthySeconds + h.probationGraceSeconds) * 1000)
          return this.locked((x) =>
            isMapPhase(x, 'Probation')
              ? this.rollBackHeld(
                  x,
                  'unhealthy',
                  `PLC links worse than before after the map ${x.update?.version}: ${JSON.stringify(health)} < ${JSON.stringify(baseline)} (over the PLCs both maps have)`,
                )
              : undefined,
          );
        await new Promise((r) => setTimeout(r, h.sampleMs ?? 500));
      }
    };
    await (this.hooks.lock ? this.hooks.lock.withLock('ota plc-map probation', run) : run());
  }

  /** A rollback someone else started (CLI, launcher): re-apply the previous map, → Failed. */
  async finishIfRollingBack(): Promise<void> {
    if (!isMapPhase(loadState(this.paths), 'RollingBack')) return;
    await this.locked((s) =>
      isMapPhase(s, 'RollingBack')
        ? this.rollBackHeld(
            s,
            s.error?.reason ?? 'manual',
            s.error?.message ?? 'rollback requested',
          )
        : undefined,
    );
  }

  private async locked(fn: (s: OtaState) => Promise<void> | void): Promise<void> {
    const paths = this.paths;
    await withOtaLock(paths.lock, 'agent plc-map', () => fn(loadState(paths)));
  }

  private async ensureApplied(plcs: PlcConfig[]): Promise<void> {
    const now = this.hooks.current?.();
    if (!now || JSON.stringify(now) !== JSON.stringify(plcs)) await this.hooks.apply(plcs);
  }

  private commitHeld(s: OtaState): void {
    const paths = this.paths;
    const u = s.update!;
    const plcs = readCandidate(paths);
    if (plcs) promoteCandidate(paths, plcs);
    s.plcMap = { name: u.name ?? '?', version: u.version ?? '?', counter: u.counter ?? 0 };
    s.progress = 1;
    move(paths, s, 'Committed', {
      message: `PLC map ${u.version} healthy for ${this.hooks.minHealthySeconds} s; committed`,
    });
    this.hooks.logger.info({ update: u.id }, 'ota PLC map committed');
    publish(this.ctx(), s);
  }

  /** (…) → RollingBack → Failed with the previous map re-applied; safe to repeat after a crash. */
  private async rollBackHeld(s: OtaState, reason: Reason, message: string): Promise<void> {
    const paths = this.paths;
    if (s.phase !== 'RollingBack') {
      s.error = { reason, message };
      move(paths, s, 'RollingBack', { message, reason, force: true });
      publish(this.ctx(), s);
    }
    await holdIfAsked('RollingBack');
    const prev = readPrevious(paths);
    if (prev)
      await this.ensureApplied(prev.plcs).catch((e: Error) =>
        this.hooks.logger.error({ err: e.message }, 'ota: re-applying the previous PLC map failed'),
      );
    // A committed map rolled back by hand: the one before it is the committed one again.
    const committedRolledBack = s.plcMap && s.update && s.plcMap.counter === s.update.counter;
    if (committedRolledBack && prev) {
      restorePrevious(paths, prev);
      if (prev.plcMap) s.plcMap = prev.plcMap;
      else delete s.plcMap;
    }
    dropCandidate(paths);
    const b = s.update?.configBackup;
    if (b && existsSync(b.backup))
      writeFileAtomicSync(b.path, readFileSync(b.backup), WORLD_READABLE);
    move(paths, s, 'Failed', {
      message: `PLC map rolled back: ${s.error?.message ?? message}`,
      reason: s.error?.reason ?? reason,
    });
    this.hooks.logger.warn({ update: s.update?.id, reason }, `ota PLC map rolled back: ${message}`);
    publish(this.ctx(), s);
  }
}
