// What the running agent wires: ota/offer → an update; ota/state out; health reports to the launcher.
import type { Logger } from 'pino';
import type { OtaConfig } from '../config/schema.js';
import type { PlcConfig } from '../../plc/config/schema.js';
import { isOtaRefusal, isOtaStateError } from '../errors.js';
import { type DownloadSettings } from '../device/download.js';
import { factoryDir as defaultFactory, imageVersion, otaPaths } from '../device/paths.js';
import { loadState, type Health, type OtaState } from '../device/state-store.js';
import {
  recordRefusal,
  runUpdate,
  type UpdaterContext,
  type UpdateSource,
} from '../device/updater.js';
import { plcMapInstaller } from '../plc-map/plc-map-update.js';
import { HEALTH_MESSAGE, type HealthMessage } from '../launcher/health-message.js';
import { parseOffer } from './offer.js';
import { statePayload, type OtaStatePayload } from './state-payload.js';

export type { OtaStatePayload };

export interface OtaAgentOptions {
  dataDir: string;
  config: OtaConfig;
  gatewayId: string;
  logger: Logger;
  publishState: (state: OtaStatePayload) => void;
  health: () => Health;
  /** balena update lock, held around the install + switch. */
  lock?: { withLock<T>(reason: string, fn: () => Promise<T>): Promise<T> };
  /** Hot-apply a PLC map (plc-map bundles); without it such bundles are refused. */
  applyPlcMap?: (plcs: PlcConfig[]) => Promise<void>;
  /** The PLC map running now, re-applied if a new map fails probation. */
  currentPlcMap?: () => PlcConfig[];
  /** Config file to back up before an update and restore on rollback. */
  configPath?: string;
  /** Image dir (factory slot); default OTA_FACTORY_DIR or the project root. */
  factoryDir?: string;
  download?: Partial<DownloadSettings>;
  /** How often health goes to the launcher (ms). */
  healthReportMs?: number;
  /** Called when the launcher went away (the agent should stop); default SIGTERM to itself. */
  onLauncherGone?: () => void;
}

export class OtaAgent {
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly factory: string;
  private readonly onDisconnect = () => {
    this.o.logger.warn('ota: launcher gone; stopping');
    (this.o.onLauncherGone ?? (() => process.kill(process.pid, 'SIGTERM')))();
  };

  constructor(private readonly o: OtaAgentOptions) {
    this.factory = o.factoryDir ?? defaultFactory();
  }

  /** Publish the current state and start reporting health to the launcher (when run by one). */
  start(): void {
    this.publish();
    if (process.send) {
      this.reportHealth();
      this.timer = setInterval(() => this.reportHealth(), this.o.healthReportMs ?? 1000);
      this.timer.unref();
      process.on('disconnect', this.onDisconnect);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    process.off('disconnect', this.onDisconnect);
  }

  /** The hook the running agent uses to tell the launcher how its links are. */
  reportHealth(h: Health = this.o.health()): void {
    if (!process.send || !process.connected) return;
    const msg: HealthMessage = { type: HEALTH_MESSAGE, ...h };
    process.send(msg);
  }

  state(): OtaStatePayload {
    return statePayload(this.readState(), imageVersion(this.factory));
  }

  /** An `ota/offer` payload. Never throws: refusals end up in ota/state and the history. */
  handleOffer(payload: Buffer): Promise<void> {
    return this.serial(async () => {
      let source: UpdateSource;
      try {
        source = parseOffer(payload);
      } catch (e) {
        await recordRefusal(this.ctx(), e).catch(() => undefined);
        this.publish();
        return;
      }
      await this.run(source);
    });
  }

  /** A local trigger (file or URL). Resolves with the resulting state. */
  install(source: UpdateSource): Promise<OtaStatePayload> {
    return this.serial(async () => {
      await this.run(source);
      return this.state();
    });
  }

  private async run(source: UpdateSource): Promise<void> {
    const go = () => runUpdate(this.ctx(), source);
    try {
      await (this.o.lock ? this.o.lock.withLock('ota update', go) : go());
    } catch (e) {
      // Never let an update problem take the agent down: it is logged and visible in ota/state.
      if (isOtaRefusal(e) || isOtaStateError(e))
        this.o.logger.warn(
          { reason: isOtaRefusal(e) ? e.reason : 'busy' },
          `ota offer not started: ${e.message}`,
        );
      else this.o.logger.error({ err: (e as Error).message }, 'ota update failed');
    }
    this.publish();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private readState(): OtaState {
    return loadState(otaPaths(this.o.dataDir));
  }

  private publish(s?: OtaState): void {
    try {
      this.o.publishState(statePayload(s ?? this.readState(), imageVersion(this.factory)));
    } catch (e) {
      this.o.logger.warn({ err: (e as Error).message }, 'ota state publish failed');
    }
  }

  private ctx(): UpdaterContext {
    const c = this.o.config;
    const ctx: UpdaterContext = {
      dataDir: this.o.dataDir,
      factory: this.factory,
      keys: c.keys,
      maxBundleBytes: c.maxBundleBytes,
      facts: {
        gatewayId: this.o.gatewayId,
        imageVersion: imageVersion(this.factory),
        deviceType: c.deviceType ?? process.env.BALENA_DEVICE_TYPE,
        ring: c.ring,
      },
      configPath: this.o.configPath,
      logger: this.o.logger,
      health: this.o.health,
      onState: (s) => this.publish(s),
      ...(this.o.download ? { download: this.o.download } : {}),
    };
    if (this.o.applyPlcMap)
      ctx.installPlcMap = plcMapInstaller(() => ctx, {
        apply: this.o.applyPlcMap,
        ...(this.o.currentPlcMap ? { current: this.o.currentPlcMap } : {}),
        health: this.o.health,
        minHealthySeconds: c.minHealthySeconds,
        probationGraceSeconds: c.probationGraceSeconds,
        logger: this.o.logger,
      });
    return ctx;
  }
}
