// North apps attached to the core: commands and remote config, health, self-healing, maintenance,
// metrics and HTTP, balena device tags and the update lock, OTA. Each gets only what it needs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { reopenLogFile } from '../../platform/logger.js';
import { recordFileHash } from '../maintenance/integrity-check.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../../platform/logger.js';
import type { Gateway } from './gateway.js';
import { LiveView } from './live-view.js';
import { feedCoreMetrics } from './core-metrics.js';
import { fleetTags } from './fleet-tags.js';
import { watchCore } from './watch-core.js';
import { createMetrics } from '../metrics/metrics.js';
import { HealthMonitor } from '../health/monitor.js';
import { Watchdog } from '../watchdog/watchdog.js';
import { Maintenance } from '../maintenance/scheduler.js';
import { JOB_NAMES, type JobName } from '../maintenance/report.js';
import { startHttpServer } from '../http/server.js';
import { UpdateLock } from '../balena/update-lock.js';
import { DeviceTagReporter } from '../balena/device-tags.js';
import { attachCommandServices } from '../commands/attach.js';
import { attachOta } from './attach-ota.js';
import { clientCertificateState } from '../link/cert-check.js';

export interface Services {
  httpPort?: number;
  stop(): Promise<void>;
}

export const DEVICE_TAG_REFRESH_MS = 10_000;

export async function startServices(ctx: {
  gateway: Gateway;
  rc: ResolvedConfig;
  logger: Logger;
  env: NodeJS.ProcessEnv;
}): Promise<Services> {
  const { gateway, rc, logger, env } = ctx;
  const cfg = rc.config;
  const alert = (level: 'warning' | 'critical', code: string, message: string) =>
    gateway.link.alert(level, code, message);
  const view = new LiveView(gateway);

  // balena: our stale update lock from a crashed instance is cleared before anything may take it.
  const lock = new UpdateLock({ logger, enabled: rc.underBalena, env });
  lock.clearStale();

  const metrics = createMetrics({ defaultLabels: { tenant: rc.tenant, gateway: rc.gatewayId } });
  const unfeed = feedCoreMetrics(gateway, metrics);

  const commands = await attachCommandServices({
    host: gateway,
    config: cfg,
    dataDir: rc.dataDir,
    logger,
    lock,
    env,
  });
  const ota = await attachOta({ gateway, rc, logger, lock, env, metrics });
  view.ota = () => ota.state();
  view.identity = () => clientCertificateState(gateway.currentConfig.wms.tls);

  const health = new HealthMonitor({
    dataDir: rc.dataDir,
    config: cfg.health,
    view,
    alert,
    logger,
    outboxMaxBytes: cfg.wms.outbox.maxBytes,
  });
  health.start();
  gateway.heartbeatExtras = () => ({ health: health.current().state, ota: ota.summary() });

  const watchdog = new Watchdog({
    config: cfg.health.watchdog,
    incidentsPath: join(rc.dataDir, 'incidents.jsonl'),
    logger,
    alert,
    metrics,
  });
  const unwatch = watchCore(gateway, watchdog);
  watchdog.start();

  const maintenance = new Maintenance({
    dataDir: rc.dataDir,
    configPath: rc.configPath,
    config: cfg.maintenance,
    logger,
    metrics,
    hooks: {
      publishReport: async (r) => {
        view.addReport(r);
        await gateway.link.publishEvent('maintenance/report', r);
      },
      compactOutbox: async () => ({ bytesFreed: gateway.link.compact().bytes }),
      checkSlots: () => ota.checkSlots(),
      alert,
      reopenLogs: () => void reopenLogFile(logger),
    },
  });
  maintenance.start();
  // The integrity check compares config files with the hashes recorded when the gateway loaded them.
  const recordConfigHashes = async () => {
    for (const f of [rc.configPath, join(rc.dataDir, 'config', 'applied.yaml')])
      if (existsSync(f))
        await recordFileHash(rc.dataDir, f).catch((e: Error) =>
          logger.warn({ err: e.message, file: f }, 'could not record config hash'),
        );
  };
  await recordConfigHashes();
  gateway.on('config-applied', () => void recordConfigHashes());

  const http = await startHttpServer({
    host: cfg.http.host,
    port: rc.httpPort,
    view,
    metrics,
    health,
    tokenPath: join(rc.dataDir, 'http-token'),
    logger,
    actions: {
      runMaintenance: (job) => {
        if (!JOB_NAMES.includes(job as JobName))
          throw new RangeError(`unknown job "${job}" (one of ${JOB_NAMES.join(', ')})`);
        return lock.withLock(`maintenance:${job}`, () => maintenance.run(job as JobName));
      },
      backup: (kind) =>
        lock.withLock('backup', () =>
          maintenance.run(kind === 'full' ? 'fullBackup' : 'diffBackup'),
        ),
      reports: () => maintenance.reports(),
      write: (doc) => commands.commands.local({ ...doc }, 'dashboard'),
      writeRefused: (doc, reason) => commands.commands.auditRefused('dashboard', doc, reason),
      incidents: () => watchdog.incidents(),
    },
  });
  logger.info({ port: http.port }, 'http listening (dashboard, /health, /metrics)');

  // balena device tags: only under balena; the reporter itself sends only changes, rate-limited.
  let tags: DeviceTagReporter | undefined;
  let tagTimer: NodeJS.Timeout | undefined;
  if (rc.underBalena) {
    tags = new DeviceTagReporter({ env, logger });
    tags.start();
    const push = () =>
      tags!.update(fleetTags(view.snapshot(), health.current().state, ota.summary()));
    push();
    tagTimer = setInterval(push, DEVICE_TAG_REFRESH_MS);
    tagTimer.unref();
    health.on('state', push);
  }

  return {
    httpPort: http.port,
    async stop() {
      clearInterval(tagTimer);
      await tags?.stop();
      await http.close();
      await maintenance.stop();
      watchdog.stop();
      unwatch();
      health.stop();
      await ota.stop();
      await commands.stop();
      unfeed();
    },
  };
}
