// Installing a PLC-map bundle inside the running agent: Switching (apply) → Probation (health at least
// as good as before for ota.minHealthySeconds) → Committed, or RollingBack (previous map re-applied) → Failed.
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PlcConfig } from '../../plc/config/schema.js';
import type { Manifest } from '../bundle/manifest.js';
import { fsyncDirSync, writeFileAtomicSync, WORLD_READABLE } from '../../platform/atomic-file.js';
import type { OtaPaths } from '../device/paths.js';
import { raiseCounter } from '../device/policy.js';
import { isHealthyAgainst } from '../device/slot-switch.js';
import type { Health, OtaState } from '../device/state-store.js';
import { move } from '../device/state-store.js';
import { publish, step, type UpdaterContext } from '../device/updater.js';
import { parsePlcMap } from './plc-map.js';

export interface PlcMapHooks {
  apply: (plcs: PlcConfig[]) => Promise<void>;
  /** The map running now (restored on rollback); default: the last one installed by OTA. */
  current?: () => PlcConfig[];
  health: () => Health;
  minHealthySeconds: number;
  probationGraceSeconds: number;
  /** How often health is sampled during probation (ms). */
  sampleMs?: number;
  lock?: { withLock<T>(reason: string, fn: () => Promise<T>): Promise<T> };
  logger: Logger;
}

export function plcMapInstaller(
  ctx: () => UpdaterContext,
  hooks: PlcMapHooks,
): NonNullable<UpdaterContext['installPlcMap']> {
  return async (m: Manifest, map, s: OtaState, paths: OtaPaths) => {
    const plcs = parsePlcMap(map.text, m.files[0]!.path);
    const previousFile = join(paths.plcMapDir, 'previous.json');
    const previous = hooks.current?.() ?? readJson(join(paths.plcMapDir, 'current.json'));
    writeFileAtomicSync(previousFile, JSON.stringify(previous ?? null), WORLD_READABLE);
    const baseline = hooks.health();
    s.update!.baseline = baseline;
    raiseCounter(paths, 'plc-map', m.counter);
    await step(
      ctx(),
      paths,
      s,
      'Switching',
      `applying PLC map ${m.name} ${m.version} (${plcs.length} PLCs)`,
    );
    const withLock = <T>(fn: () => Promise<T>) =>
      hooks.lock ? hooks.lock.withLock('ota plc-map switch', fn) : fn();
    try {
      await withLock(() => hooks.apply(plcs));
    } catch (e) {
      return rollBackMap(
        ctx(),
        paths,
        s,
        hooks,
        previous,
        'install-failed',
        `applying the map failed: ${(e as Error).message}`,
      );
    }
    s.update!.probation = { startedAt: new Date().toISOString(), boots: 1, baseline };
    await step(
      ctx(),
      paths,
      s,
      'Probation',
      `PLC map ${m.version} applied; probation ${hooks.minHealthySeconds} s against ${JSON.stringify(baseline)}`,
    );
    const start = Date.now();
    let since: number | undefined;
    const sample = hooks.sampleMs ?? 500;
    for (;;) {
      const now = Date.now();
      since = isHealthyAgainst(hooks.health(), baseline) ? (since ?? now) : undefined;
      if (since !== undefined && now - since >= hooks.minHealthySeconds * 1000) break;
      if (now - start > (hooks.minHealthySeconds + hooks.probationGraceSeconds) * 1000)
        return rollBackMap(
          ctx(),
          paths,
          s,
          hooks,
          previous,
          'unhealthy',
          `PLC links worse than before after the map ${m.version}: ${JSON.stringify(hooks.health())} < ${JSON.stringify(baseline)}`,
        );
      await new Promise((r) => setTimeout(r, sample));
    }
    writeFileAtomicSync(
      join(paths.plcMapDir, 'current.json'),
      JSON.stringify(plcs),
      WORLD_READABLE,
    );
    const tree = join(paths.plcMapDir, 'tree');
    rmSync(tree, { recursive: true, force: true });
    cpSync(map.tree, tree, { recursive: true });
    fsyncDirSync(paths.plcMapDir);
    s.plcMap = { name: m.name, version: m.version, counter: m.counter };
    s.progress = 1;
    move(paths, s, 'Committed', {
      message: `PLC map ${m.version} healthy for ${hooks.minHealthySeconds} s; committed`,
    });
    hooks.logger.info({ update: s.update?.id }, 'ota PLC map committed');
    publish(ctx(), s);
  };
}

async function rollBackMap(
  ctx: UpdaterContext,
  paths: OtaPaths,
  s: OtaState,
  hooks: PlcMapHooks,
  previous: PlcConfig[] | undefined,
  reason: 'unhealthy' | 'install-failed',
  message: string,
): Promise<void> {
  s.error = { reason, message };
  move(paths, s, 'RollingBack', { message, reason });
  publish(ctx, s);
  if (previous)
    await hooks
      .apply(previous)
      .catch((e: Error) =>
        hooks.logger.error({ err: e.message }, 'ota: re-applying the previous PLC map failed'),
      );
  const b = s.update?.configBackup;
  if (b && existsSync(b.backup))
    writeFileAtomicSync(b.path, readFileSync(b.backup), WORLD_READABLE);
  move(paths, s, 'Failed', { message: `PLC map rolled back: ${message}`, reason });
  hooks.logger.warn({ update: s.update?.id, reason }, `ota PLC map rolled back: ${message}`);
  publish(ctx, s);
}

function readJson(file: string): PlcConfig[] | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PlcConfig[];
  } catch {
    return undefined;
  }
}
