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
import { JOB_NAMES, UnknownJobError, type JobName } from '../maintenance/report.js';
import { startHttpServer } from '../http/server.js';
import { UpdateLock } from '../balena/update-lock.js';
import { DeviceTagReporter } from '../balena/device-tags.js';
import { attachCommandServices } from '../commands/attach.js';
import { attachOta } from './attach-ota.js';
import { isRejectedError } from '../commands/rejection.js';
import { attachIdentity } from '../identity/attach.js';
import { keyPassphrase } from '../identity/key-file.js';
import {
  flushed,
  savePendingAlert,
  takePendingAlerts,
  type PendingAlert,
} from './pending-alerts.js';

export interface Services {
  httpPort?: number;
  stop(): Promise<void>;
}

export const DEVICE_TAG_REFRESH_MS = 10_000;

function windowBrief(
  w: { state: string; start: string; end: string } | null,
): { state: string; start: string; end: string } | null {
  return w ? { state: w.state, start: w.start, end: w.end } : null;
}

export async function startServices(ctx: {
  gateway: Gateway;
  rc: ResolvedConfig;
  logger: Logger;
  env: NodeJS.ProcessEnv;
}): Promise<Services> {
  const { gateway, rc, logger, env } = ctx;
  const cfg = rc.config;
  const alert = (level: 'warning' | 'critical', code: string, message: string) =>
    void gateway.link.alert(level, code, message);
  // Alerts a previous run could not get acknowledged before it exited (a watchdog escalation).
  for (const a of takePendingAlerts(rc.dataDir))
    void gateway.link.publishEvent('alerts', {
      ...a,
      message: `${a.message} (raised before a restart)`,
    });
  const view = new LiveView(gateway);

  // balena: our stale update lock from a crashed instance is cleared before anything may take it.
  const lock = new UpdateLock({ logger, enabled: rc.underBalena, env });
  lock.clearStale();

  const metrics = createMetrics({ defaultLabels: { tenant: rc.tenant, gateway: rc.gatewayId } });
  // The identity manager starts below; until then (and without it) the config's certificate counts.
  let identityState: () => { notAfter?: string } | undefined = () => undefined;
  const unfeed = feedCoreMetrics(gateway, metrics, { certInUse: () => identityState()?.notAfter });

  const commands = await attachCommandServices({
    host: gateway,
    config: cfg,
    dataDir: rc.dataDir,
    logger,
    lock,
    env,
  });
  gateway.sparkplug?.useWriteService(commands.commands);
  const ota = await attachOta({
    gateway,
    rc,
    logger,
    lock,
    env,
    metrics,
    trust: commands.trust.authority,
  });
  view.ota = () => ota.state();
  const identity = await attachIdentity({
    link: gateway.link,
    config: cfg,
    gatewayId: rc.gatewayId,
    dataDir: rc.dataDir,
    passphrase: keyPassphrase(env),
    logger,
    trust: commands.trust.authority,
  });
  view.identity = () => identity.state();
  identityState = () => identity.state();
  view.trust = () => commands.trust.state;
  gateway.registerExtras = () => {
    const c = identity.state();
    return {
      slot: ota.state().active,
      ...(c?.serial && c.notAfter ? { cert: { serial: c.serial, notAfter: c.notAfter } } : {}),
    };
  };
  gateway.link.resendRegistration();

  const health = new HealthMonitor({
    dataDir: rc.dataDir,
    config: cfg.health,
    view,
    alert,
    logger,
    outboxMaxBytes: cfg.wms.outbox.maxBytes,
  });
  health.start();
  // A full disk or outbox, or the WMS going silent (or coming back), is felt at once on /health, not at the
  // next sampling period.
  const recheck = () =>
    void health
      .check()
      .catch((e: Error) => logger.warn({ err: e.message }, 'health re-check failed'));
  gateway.link.on('outbox-write-failure', recheck);
  gateway.link.on('outbox-write-recovered', recheck);
  gateway.link.on('outbox-full', recheck);
  gateway.link.on('peer', recheck);
  // Set once maintenance is attached below; the heartbeat may tick before.
  let windowNow: () => { state: string; start: string; end: string } | null = () => null;
  gateway.heartbeatExtras = () => ({
    health: health.current().state,
    ota: ota.summary(),
    wms: gateway.link.stats().peer,
    // The window now open or the next one (null: none configured), as on maintenance/window.
    window: windowBrief(windowNow()),
  });

  // The escalation alert is followed by exit(1): the exit waits for the broker's acknowledgement
  // (ALERT_FLUSH_MS) and otherwise keeps the alert on disk for the next start.
  let lastAlert: { a: PendingAlert; sent: Promise<void> | undefined } | undefined;
  const watchdog = new Watchdog({
    config: cfg.health.watchdog,
    incidentsPath: join(rc.dataDir, 'incidents.jsonl'),
    logger,
    alert: (level, code, message) => {
      const connected = gateway.link.stats().connected;
      const sent = gateway.link.alert(level, code, message);
      lastAlert = {
        a: { ts: new Date().toISOString(), level, code, message },
        sent: connected ? sent : undefined,
      };
    },
    exit: (code) =>
      void (async () => {
        const last = lastAlert;
        if (last && !(await flushed(last.sent))) {
          try {
            savePendingAlert(rc.dataDir, last.a);
          } catch (e) {
            logger.error({ err: (e as Error).message }, 'escalation alert could not be kept');
          }
        }
        logger.flush?.();
        process.exit(code);
      })(),
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
      publishWindow: (p) => gateway.link.publishRetained('maintenance/window', p),
    },
  });
  view.maintenanceWindow = () => maintenance.window();
  windowNow = () => maintenance.window();
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
        if (!JOB_NAMES.includes(job as JobName)) throw new UnknownJobError(job);
        return lock.withLock(`maintenance:${job}`, () => maintenance.run(job as JobName));
      },
      backup: (kind) =>
        lock.withLock('backup', () =>
          maintenance.run(kind === 'full' ? 'fullBackup' : 'diffBackup'),
        ),
      reports: () => maintenance.reports(),
      // The page's write: the checks, queue bound, update lock, execution and audit of a command.
      write: async (doc) => {
        try {
          const result = await commands.commands.submitWrite({ ...doc, who: 'dashboard' });
          return { ack: { status: 'accepted' }, result };
        } catch (e) {
          if (isRejectedError(e)) return { ack: { status: 'rejected', reason: e.reason } };
          throw e;
        }
      },
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
      gateway.link.off('outbox-write-failure', recheck);
      gateway.link.off('outbox-write-recovered', recheck);
      gateway.link.off('outbox-full', recheck);
      await ota.stop();
      await identity.stop();
      await commands.stop();
      unfeed();
    },
  };
}
