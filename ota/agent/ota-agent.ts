// What the running agent wires: ota/offer → an update; ota/state out; health reports to the launcher.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { OtaConfig } from '../config/schema.js';
import type { PlcConfig } from '../../plc/config/schema.js';
import { OtaRefusal, isOtaRefusal, isOtaStateError } from '../errors.js';
import { type DownloadSettings } from '../device/download.js';
import { factoryDir as defaultFactory, imageVersion, otaPaths } from '../device/paths.js';
import { loadState, saveState, type Health, type OtaState } from '../device/state-store.js';
import { runUpdate, type UpdaterContext, type UpdateSource } from '../device/updater.js';
import { PlcMapDeployment } from '../plc-map/plc-map-update.js';
import { withOtaLock } from '../device/op-lock.js';
import { HEALTH_MESSAGE, type HealthMessage } from '../launcher/health-message.js';
import { parseOffer } from './offer.js';
import type { KeyResolver } from '../../platform/signature/key-ring.js';
import { checkSource } from './source-policy.js';
import { verifyManifest } from '../bundle/signing.js';
import { waitsForWindow } from '../device/states.js';
import { OfferRefusals } from './offer-refusals.js';
import { statePayload, type OtaStatePayload } from './state-payload.js';

export type { OtaStatePayload };

export interface OtaAgentOptions {
  dataDir: string;
  config: OtaConfig;
  gatewayId: string;
  logger: Logger;
  publishState: (state: OtaStatePayload) => void;
  health: () => Health;
  /** Health over some PLCs only (a PLC map's probation judges the PLCs it keeps). */
  healthOf?: (plcIds: readonly string[]) => Health;
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
  /**
   * Who may sign manifests (the agent's trust authority: ota.keys plus keys delegated role ota, within
   * their targets). Without it: ota.keys only.
   */
  signers?: { keys: KeyResolver; authorize(kid: string, target: string): void };
  /** How often health goes to the launcher (ms). */
  healthReportMs?: number;
  /** Called when the launcher went away (the agent should stop); default SIGTERM to itself. */
  onLauncherGone?: () => void;
  /** Raise an alert (alerts topic): every rollback, of a slot or of a PLC map, raises one. */
  alert?: (level: 'warning' | 'critical', code: string, message: string) => void;
  /** How often the state file is checked for work started elsewhere (ms), e.g. `ota rollback`. */
  watchMs?: number;
  /** The maintenance window an agent switch waits for (see UpdaterContext.switchWindow). */
  switchWindow?: () => { start: string; end: string } | undefined;
}

/** Offers past screening waiting for or running an update; more are refused busy (in memory). */
export const MAX_PENDING_OFFERS = 2;
export { REFUSAL_PUBLISH_MS } from './offer-refusals.js';

export class OtaAgent {
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private readonly refusals: OfferRefusals;
  private lastPayload: OtaStatePayload | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watch: NodeJS.Timeout | undefined;
  private readonly factory: string;
  private readonly maps: PlcMapDeployment | undefined;
  /** Phase/history signature of the last published state. */
  private published = '';
  private readonly onDisconnect = () => {
    this.o.logger.warn('ota: launcher gone; stopping');
    (this.o.onLauncherGone ?? (() => process.kill(process.pid, 'SIGTERM')))();
  };

  constructor(private readonly o: OtaAgentOptions) {
    this.factory = o.factoryDir ?? defaultFactory();
    this.refusals = new OfferRefusals(o.logger, () => {
      const last = this.lastPayload;
      // The cached payload: re-reading state.json for every junk offer is what stalled polling.
      if (last) this.emitState(this.refusals.apply({ ...last, ts: new Date().toISOString() }));
      else this.publish();
    });
    const c = o.config;
    if (o.applyPlcMap)
      this.maps = new PlcMapDeployment(() => this.ctx(), {
        apply: o.applyPlcMap,
        ...(o.currentPlcMap ? { current: o.currentPlcMap } : {}),
        health: o.health,
        ...(o.healthOf ? { healthOf: o.healthOf } : {}),
        minHealthySeconds: c.minHealthySeconds,
        probationGraceSeconds: c.probationGraceSeconds,
        maxBoots: c.crashLoop.exits,
        ...(o.lock ? { lock: o.lock } : {}),
        logger: o.logger,
      });
  }

  /**
   * Publish the current state, resume a PLC-map deployment a restart interrupted, raise the alert
   * of a rollback the launcher did while no agent ran, and start reporting health to the launcher.
   * Resolves once the resume step (not a probation it starts) is done.
   */
  start(): Promise<void> {
    this.publish();
    const resumed = this.serial(async () => {
      this.alertRollback();
      if (this.maps) await this.maps.resume().catch((e: Error) => this.logFailure(e));
      this.alertRollback();
      this.publish();
    });
    this.watch = setInterval(() => {
      const s = this.safeState();
      // The launcher changes the state too (commit after probation) and has no link: publish it.
      if (s && this.signature(s) !== this.published) this.publish(s);
      if (s && this.windowPassed(s)) void this.serial(() => this.nextWindow());
      if (s?.update?.target === 'plc-map' && s.phase === 'RollingBack' && this.maps)
        void this.serial(async () => {
          await this.maps!.finishIfRollingBack().catch((e: Error) => this.logFailure(e));
          this.alertRollback();
          this.publish();
        });
    }, this.o.watchMs ?? 1000);
    this.watch.unref();
    if (process.send) {
      this.reportHealth();
      this.timer = setInterval(() => this.reportHealth(), this.o.healthReportMs ?? 1000);
      this.timer.unref();
      process.on('disconnect', this.onDisconnect);
    }
    return resumed;
  }

  stop(): void {
    clearInterval(this.timer);
    this.refusals.stop();
    clearInterval(this.watch);
    process.off('disconnect', this.onDisconnect);
  }

  /** The hook the running agent uses to tell the launcher how its links are. */
  reportHealth(h: Health = this.o.health()): void {
    if (!process.send || !process.connected) return;
    const msg: HealthMessage = { type: HEALTH_MESSAGE, ...h };
    process.send(msg);
  }

  state(): OtaStatePayload {
    return this.refusals.apply(statePayload(this.readState(), imageVersion(this.factory)));
  }

  /** An `ota/offer` payload; resolves when it was refused or its update ended. Never throws. */
  handleOffer(payload: Buffer): Promise<void> {
    return this.offer(payload).done;
  }

  /**
   * Screen an `ota/offer` without a lock or a disk write — shape and size, the source policy for an
   * unsigned {"url"}, the kid and signature of a manifest — then queue the update. `screened`
   * resolves when the offer was refused or handed on (what the inbound queue waits for); `done` when
   * the update ended. Refusals at screening are kept in memory and published on ota/state (at most
   * once a second), never written: a flood of junk costs no fsync and never waits for the OTA lock.
   */
  offer(payload: Buffer): { screened: Promise<void>; done: Promise<void> } {
    let handOn: (p: Promise<void>) => void = () => undefined;
    const done = new Promise<void>((resolve) => (handOn = (p) => void p.then(resolve, resolve)));
    const screened = this.screen(payload).then(
      (source) => {
        if (this.pending >= MAX_PENDING_OFFERS) {
          this.refusals.refuse(
            new OtaRefusal('busy', 'an update is in progress and another one waits'),
          );
          handOn(Promise.resolve());
          return;
        }
        this.pending++;
        this.refusals.clear();
        handOn(
          this.serial(() => this.run(source))
            .then(() => undefined)
            .finally(() => this.pending--),
        );
      },
      (e: unknown) => {
        this.refusals.refuse(e);
        handOn(Promise.resolve());
      },
    );
    return { screened, done };
  }

  private async screen(payload: Buffer): Promise<UpdateSource> {
    const source = parseOffer(payload);
    const c = this.o.config;
    const jws = 'offerJws' in source ? source.offerJws : undefined;
    // Kid first (cheap), then the signature: before any lock, download or disk write.
    if (jws)
      await verifyManifest(jws, {
        keys: this.o.signers?.keys ?? c.keys,
        ...(this.o.signers ? { authorize: this.o.signers.authorize } : {}),
      });
    else if ('url' in source) checkSource(source.url, c.sources ?? []);
    return source;
  }

  /** A local trigger (file or URL). Resolves with the resulting state. */
  install(source: UpdateSource): Promise<OtaStatePayload> {
    return this.serial(async () => {
      // The state this deployment ended in (Switching for an agent bundle), not a later re-read:
      // the launcher may already have moved on to Probation.
      const end = await this.run(source);
      return end ? statePayload(end, imageVersion(this.factory)) : this.state();
    });
  }

  private async run(source: UpdateSource): Promise<OtaState | undefined> {
    const go = () => runUpdate(this.ctx(), source);
    let end: OtaState | undefined;
    try {
      const s = await (this.o.lock ? this.o.lock.withLock('ota update', go) : go());
      end = { ...s };
      // A PLC map on probation is judged here, outside the OTA lock (ota rollback may step in).
      if (this.maps && s.update?.target === 'plc-map' && s.phase === 'Probation') {
        await this.maps.probation();
        end = this.safeState() ?? end; // a map's deployment ends with its probation
      }
      this.alertRollback();
    } catch (e) {
      // Never let an update problem take the agent down: it is logged and visible in ota/state.
      if (isOtaRefusal(e) || isOtaStateError(e))
        this.o.logger.warn(
          { reason: isOtaRefusal(e) ? e.reason : 'busy' },
          `ota offer not started: ${e.message}`,
        );
      else this.o.logger.error({ err: (e as Error).message }, 'ota update failed');
    }
    this.cleanDownloads();
    this.publish();
    return end;
  }

  /**
   * The update ended here (refused, failed, or installed into a slot / applied as a PLC map): its
   * download and any partial file are of no more use. Left behind, five refused offers held 72 MB
   * and led back to a full disk.
   */
  private cleanDownloads(): void {
    const dir = otaPaths(this.o.dataDir).downloads;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // no downloads dir yet
    }
    for (const n of names)
      try {
        rmSync(join(dir, n), { recursive: true, force: true });
      } catch (e) {
        this.o.logger.warn({ file: n, err: (e as Error).message }, 'ota: download not removed');
      }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private readState(): OtaState {
    return loadState(otaPaths(this.o.dataDir));
  }

  private safeState(): OtaState | undefined {
    try {
      return this.readState();
    } catch {
      return undefined;
    }
  }

  private logFailure(e: Error): void {
    this.o.logger.error({ err: e.message }, 'ota: resuming the deployment failed');
  }

  /**
   * One alert per rollback (the launcher's, done while no agent ran, or a PLC map's): the last
   * RollingBack → Failed entry not alerted yet. Marked in the state file so a restart does not
   * repeat it; the alert goes into the link's event queue when the broker is not reachable yet.
   */
  private alertRollback(): void {
    const s = this.safeState();
    const last = s?.history.at(-1);
    if (!s || !this.o.alert || s.phase !== 'Failed' || last?.from !== 'RollingBack') return;
    if (s.alertedRollback === last.ts) return;
    this.o.alert(
      'critical',
      'ota.rolled-back',
      `OTA ${s.update?.target ?? 'agent'} update ${s.update?.id ?? ''} rolled back (${s.error?.reason ?? last.reason ?? 'rollback'}): ${last.message}`,
    );
    const paths = otaPaths(this.o.dataDir);
    void withOtaLock(paths.lock, 'agent alert', () => {
      const x = loadState(paths);
      if (x.history.at(-1)?.ts !== last.ts) return;
      x.alertedRollback = last.ts;
      saveState(paths, x); // a resting phase: not counted by the loop guard
    }).catch((e: Error) => this.o.logger.warn({ err: e.message }, 'ota: alert mark not saved'));
  }

  /** A switch waiting for a window whose end passed (the launcher was busy or down): not switched. */
  private windowPassed(s: OtaState): boolean {
    const w = s.update?.switchWindow;
    return waitsForWindow(s) && !!w && Date.parse(w.end) <= Date.now();
  }

  /** Move a waiting switch to the next window (none any more, e.g. ota.switch now: switch now). */
  private async nextWindow(): Promise<void> {
    const paths = otaPaths(this.o.dataDir);
    await withOtaLock(paths.lock, 'agent window', () => {
      const x = loadState(paths);
      if (!this.windowPassed(x) || !x.update) return;
      const w = this.o.switchWindow?.();
      if (w) x.update.switchWindow = w;
      else delete x.update.switchWindow;
      this.o.logger.info(
        { update: x.update.id, window: w },
        w ? 'ota: switch window passed; waits for the next one' : 'ota: switch no longer waits',
      );
      saveState(paths, x);
    }).catch((e: Error) => this.o.logger.warn({ err: e.message }, 'ota: switch window not moved'));
    this.publish();
  }

  private signature(s: OtaState): string {
    return `${s.phase} ${s.history.at(-1)?.ts ?? ''} ${s.active} ${s.update?.switchWindow?.start ?? ''}`;
  }

  private publish(s?: OtaState): void {
    try {
      const st = s ?? this.readState();
      this.published = this.signature(st);
      const p = statePayload(st, imageVersion(this.factory));
      this.lastPayload = p;
      this.emitState(this.refusals.apply(p));
    } catch (e) {
      this.o.logger.warn({ err: (e as Error).message }, 'ota state publish failed');
    }
  }

  private emitState(p: OtaStatePayload): void {
    try {
      this.o.publishState(p);
    } catch (e) {
      this.o.logger.warn({ err: (e as Error).message }, 'ota state publish failed');
    }
  }

  private ctx(): UpdaterContext {
    const c = this.o.config;
    const ctx: UpdaterContext = {
      dataDir: this.o.dataDir,
      factory: this.factory,
      keys: this.o.signers?.keys ?? c.keys,
      ...(this.o.signers ? { authorize: this.o.signers.authorize } : {}),
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
      ...(this.o.switchWindow ? { switchWindow: this.o.switchWindow } : {}),
      download: {
        ...(c.downloadDeadlineSeconds ? { deadlineMs: c.downloadDeadlineSeconds * 1000 } : {}),
        ...this.o.download,
      },
    };
    if (this.maps) ctx.installPlcMap = this.maps.install;
    return ctx;
  }
}
