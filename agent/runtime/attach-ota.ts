// OTA on the running agent: ota/offer → the update state machine, retained ota/state, health reports
// to the launcher, PLC-map bundles through the core's hot apply, and slot integrity for maintenance.
import { existsSync } from 'node:fs';
import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../../platform/logger.js';
import type { Gateway } from './gateway.js';
import type { Metrics } from '../metrics/metrics.js';
import { OtaAgent, type OtaStatePayload } from '../../ota/agent/ota-agent.js';
import { otaPaths } from '../../ota/device/paths.js';
import { loadState } from '../../ota/device/state-store.js';
import { scanTree, treeSha256 } from '../../ota/bundle/tree.js';
import type { TrustAuthority } from '../trust/trust-authority.js';
import { WindowClock } from '../maintenance/window-clock.js';

export interface OtaAttachment {
  state(): OtaStatePayload;
  /** One word for heartbeats and the gw.ota device tag, e.g. "b 1.2.0 (Committed)". */
  summary(): string;
  checkSlots(): Promise<Array<{ slot: string; ok: boolean; problem?: string | undefined }>>;
  stop(): Promise<void>;
}

export async function attachOta(ctx: {
  gateway: Gateway;
  rc: ResolvedConfig;
  logger: Logger;
  lock: { withLock<T>(reason: string, fn: () => Promise<T>): Promise<T> };
  env: NodeJS.ProcessEnv;
  metrics: Metrics;
  /** Who may sign manifests: ota.keys and keys delegated role ota (within their targets). */
  trust?: TrustAuthority;
}): Promise<OtaAttachment> {
  const { gateway, rc, logger, lock, metrics } = ctx;
  const paths = otaPaths(rc.dataDir);
  const switchWindow = windowPolicy(rc, logger);
  const agent = new OtaAgent({
    ...(switchWindow ? { switchWindow } : {}),
    dataDir: rc.dataDir,
    config: rc.config.ota,
    gatewayId: rc.gatewayId,
    logger: logger.child({ part: 'ota' }),
    publishState: (s) => {
      gateway.link.publishRetained('ota/state', s);
      metrics.setOtaPhase(String(s.phase).toLowerCase());
      metrics.otaLastRollback.set(lastRollbackSeconds(s.history));
    },
    health: () => {
      const states = Object.values(gateway.plcStates());
      return {
        plcsOk: states.filter((s) => s === 'connected').length,
        plcsTotal: states.length,
        wmsConnected: gateway.link.stats().connected,
      };
    },
    healthOf: (ids) => {
      const states = gateway.plcStates();
      return {
        plcsOk: ids.filter((id) => states[id] === 'connected').length,
        plcsTotal: ids.length,
        wmsConnected: gateway.link.stats().connected,
      };
    },
    lock,
    alert: (level, code, message) => gateway.link.alert(level, code, message),
    ...(ctx.trust
      ? {
          signers: {
            keys: ctx.trust.resolverFor('ota'),
            authorize: (kid: string, target: string) =>
              void ctx.trust!.authorize(kid, 'ota', { scope: target }),
          },
        }
      : {}),
    applyPlcMap: (plcs) => gateway.applyConfig({ ...gateway.currentConfig, plcs }),
    currentPlcMap: () => gateway.currentConfig.plcs,
    ...(existsSync(rc.configPath) ? { configPath: rc.configPath } : {}),
  });
  // The inbound queue waits for screening only (no lock, no disk); updates queue inside the agent.
  gateway.link.subscribe('ota/offer', (payload) => agent.offer(payload).screened);
  void agent.start();
  return {
    state: () => agent.state(),
    summary: () => {
      const s = agent.state();
      const slot = s.slots as Record<string, { version?: string } | null | undefined>;
      const version = slot[s.active]?.version ?? gateway.version;
      return `${s.active} ${version} (${s.phase})`;
    },
    async checkSlots() {
      const st = loadState(paths);
      const out: Array<{ slot: string; ok: boolean; problem?: string }> = [];
      for (const name of ['a', 'b'] as const) {
        const info = st.slots[name];
        if (!info) continue;
        try {
          const actual = treeSha256(await scanTree(paths.slot(name)));
          out.push(
            actual === info.treeSha256
              ? { slot: name, ok: true }
              : {
                  slot: name,
                  ok: false,
                  problem: `tree sha256 ${actual} ≠ installed ${info.treeSha256}`,
                },
          );
        } catch (e) {
          out.push({ slot: name, ok: false, problem: e instanceof Error ? e.message : String(e) });
        }
      }
      return out;
    },
    async stop() {
      agent.stop();
    },
  };
}

/**
 * ota.switch (CONTRACT.md §8): `window` (the default when maintenance.windows are set) makes an agent
 * switch wait for the window open now or the next one; `now`, or no window at all, switches at once.
 */
function windowPolicy(
  rc: ResolvedConfig,
  logger: Logger,
): (() => { start: string; end: string } | undefined) | undefined {
  const clock = new WindowClock(rc.config.maintenance.windows);
  const policy = rc.config.ota.switch ?? (clock.configured ? 'window' : 'now');
  if (policy === 'now') return undefined;
  if (!clock.configured) {
    logger.warn('ota.switch is window but no maintenance.windows are configured: switches go now');
    return undefined;
  }
  return () => {
    const w = clock.currentOrNext(new Date());
    return w ? { start: w.start.toISOString(), end: w.end.toISOString() } : undefined;
  };
}

/** Unix seconds of the newest move into RollingBack in the persisted history (0: none). */
function lastRollbackSeconds(history: readonly { ts: string; to: string }[]): number {
  let last = 0;
  for (const h of history) if (h.to === 'RollingBack') last = Math.max(last, Date.parse(h.ts) || 0);
  return last / 1000;
}
