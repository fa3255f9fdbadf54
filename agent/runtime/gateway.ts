// The core: owns the PLC pollers and the WMS link and moves readings one way —
// poller → codec (in the poller) → change filter → outbox/link — and keeps the live view the
// dashboard, heartbeat and health read. North apps (commands, remote config, OTA, balena, HTTP,
// maintenance) attach to it in services.ts; nobody reaches across.
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../../platform/logger.js';
import type { GatewayConfig } from '../config/schema.js';
import type { PlcConfig } from '../../plc/config/schema.js';
import { PollerSet } from '../../plc/poller/poller-set.js';
import type { PlcReading, PlcStatus } from '../../plc/poller/plc-poller.js';
import { ChangeFilter } from '../../plc/report/change-filter.js';
import type { TagValue } from '../../plc/codec/codec.js';
import { WmsLink, type Alert } from '../link/wms-link.js';
import type { ClientPair } from '../link/tls-material.js';
import { registration } from './registration.js';
import { SparkplugNode } from '../sparkplug/edge-node.js';

export interface GatewayOptions {
  config: GatewayConfig;
  tenant: string;
  gatewayId: string;
  dataDir: string;
  version: string;
  logger: Logger;
  /** WMS_KEY_PASSPHRASE for an encrypted client key. */
  keyPassphrase?: string | undefined;
  /** A renewed client identity to connect with instead of wms.tls.cert/key. */
  clientPair?: ClientPair | undefined;
}

export interface PlcView {
  id: string;
  state: PlcStatus['state'];
  error?: string;
  since: string;
  lastReadTs?: string;
  /** The last value read of every tag (kept while it reads bad); built when first read, then kept. */
  readonly values: Record<string, TagValue>;
  /** The tags whose last read failed; built when first read, then kept. */
  readonly quality: Record<string, 'bad'>;
}

/** What the core keeps per PLC beside the per-tag state its change filters hold. */
interface PlcLinkView {
  id: string;
  /** Tag values read since the PLC was first seen (a metric samples it; counting per reading would cost a pass). */
  valuesRead: number;
  state: PlcStatus['state'];
  error?: string;
  since: string;
  lastReadTs?: string;
}

export interface LiveValues {
  plc: string;
  ts: string;
  values: Record<string, TagValue | null>;
  quality: Record<string, 'bad'>;
  full: boolean;
}

/**
 * What north services (commands, OTA, health, maintenance, metrics, the live view) may do with the WMS
 * link: publish, subscribe, alert, read its stats, compact the outbox, hear connect/disconnect. Not
 * start, stop or reconfigure it: that is the core's.
 */
export type CoreLink = Pick<
  WmsLink,
  | 'publishRetained'
  | 'publishEvent'
  | 'subscribe'
  | 'alert'
  | 'stats'
  | 'compact'
  | 'setClientPair'
  | 'resendRegistration'
  | 'on'
  | 'once'
  | 'off'
>;

/** What north services may do with the pollers: find one (to command it or see its progress), hear readings. */
export type CorePollers = Pick<PollerSet, 'get' | 'on' | 'off'>;

/** What the core tells north services and the live view. */
export type GatewayEvents = {
  /** A reading as published (only built while someone listens: the hot path checks). */
  values: [values: LiveValues];
  /** A PLC's poller changed state. */
  status: [e: { plc: string; status: PlcStatus }];
  /** An alert the link raised. */
  alert: [alert: Alert];
  /** A new config is in force (hot apply done). */
  'config-applied': [config: GatewayConfig];
};

export class Gateway extends EventEmitter<GatewayEvents> {
  private readonly pollerSet: PollerSet;
  private readonly wmsLink: WmsLink;
  /** With wms.format sparkplug-b: the edge node that is the link's data format. */
  readonly sparkplug: SparkplugNode | undefined;
  private config: GatewayConfig;
  private readonly filters = new Map<string, ChangeFilter[]>();
  private readonly views = new Map<string, PlcLinkView>();
  private readonly startedAt = Date.now();
  private published = 0;
  /** North apps add fields to the heartbeat (health state, OTA slot) without the core knowing them. */
  heartbeatExtras: () => Record<string, unknown> = () => ({});
  /** North apps add to the register message (the active OTA slot) the same way. */
  registerExtras: () => { slot?: string } = () => ({});

  constructor(private readonly opts: GatewayOptions) {
    super();
    this.config = opts.config;
    this.pollerSet = new PollerSet({
      logger: opts.logger,
      options: { commandQueueLength: opts.config.commands.queueLength },
    });
    this.sparkplug =
      opts.config.wms.format === 'sparkplug-b'
        ? new SparkplugNode({
            group: opts.tenant,
            node: opts.gatewayId,
            dataDir: opts.dataDir,
            logger: opts.logger,
            host: this,
            backlog: () => this.wmsLink.stats().outbox.messages,
            alert: (level, code, message, extra) => this.wmsLink.alert(level, code, message, extra),
          })
        : undefined;
    this.wmsLink = new WmsLink({
      ...(this.sparkplug && { format: this.sparkplug }),
      tenant: opts.tenant,
      gatewayId: opts.gatewayId,
      dataDir: opts.dataDir,
      version: opts.version,
      wms: opts.config.wms,
      logger: opts.logger,
      heartbeat: () => ({ plcs: this.plcStates(), ...this.heartbeatExtras() }),
      keyPassphrase: opts.keyPassphrase,
      clientPair: opts.clientPair,
      registration: () =>
        registration({
          tenant: opts.tenant,
          gatewayId: opts.gatewayId,
          version: opts.version,
          config: this.config,
          env: process.env,
          ...this.registerExtras(),
        }),
      knownPlc: (id) => this.config.plcs.some((p) => p.id === id),
    });
    this.pollerSet.on('reading', (r) => this.onReading(r));
    this.pollerSet.on('status', (s) => this.onStatus(s.plc, s));
    this.wmsLink.on('alert', (a) => this.emit('alert', a));
  }

  /** The pollers, as far as north services may use them. */
  get pollers(): CorePollers {
    return this.pollerSet;
  }

  /** The WMS link, as far as north services may use it. */
  get link(): CoreLink {
    return this.wmsLink;
  }

  get currentConfig(): GatewayConfig {
    return this.config;
  }

  get version(): string {
    return this.opts.version;
  }

  get tenant(): string {
    return this.opts.tenant;
  }

  get gatewayId(): string {
    return this.opts.gatewayId;
  }

  async start(): Promise<void> {
    await this.wmsLink.start();
    this.wmsLink.publishRetained('status', {
      state: 'online',
      version: this.opts.version,
      ts: new Date().toISOString(),
    });
    this.rebuildFilters(this.config.plcs, []);
    await this.pollerSet.apply(this.config.plcs);
    this.opts.logger.info({ plcs: this.config.plcs.map((p) => p.id) }, 'gateway started');
  }

  async stop(): Promise<void> {
    await this.pollerSet.stop();
    await this.wmsLink.stop();
  }

  /** Hot apply: PLCs added/removed/changed without disturbing the others; WMS settings → link reconnects if needed. */
  async applyConfig(next: GatewayConfig): Promise<void> {
    const prev = this.config;
    this.rebuildFilters(next.plcs, prev.plcs);
    await this.pollerSet.apply(next.plcs);
    if (!isDeepStrictEqual(prev.wms, next.wms)) await this.wmsLink.reconfigure(next.wms);
    for (const id of [...this.views.keys()])
      if (!next.plcs.some((p) => p.id === id)) this.views.delete(id);
    this.config = next;
    this.link.resendRegistration(); // the WMS learns of added or removed PLCs and tags at once
    this.emit('config-applied', next);
  }

  /** Self-healing: stop a stalled PLC's poller and start a fresh one; the other PLCs are untouched. */
  async restartPlc(id: string): Promise<void> {
    const plcs = this.config.plcs;
    if (!plcs.some((p) => p.id === id)) return;
    await this.pollerSet.apply(plcs.filter((p) => p.id !== id));
    for (const f of this.filters.get(id) ?? []) f.reset();
    await this.pollerSet.apply(plcs);
  }

  plcStates(): Record<string, PlcStatus['state']> {
    const out: Record<string, PlcStatus['state']> = {};
    for (const p of this.config.plcs) out[p.id] = this.views.get(p.id)?.state ?? 'disconnected';
    return out;
  }

  /**
   * Each configured PLC as the live view shows it. Its values and quality are read from the change
   * filters' per-tag arrays only when a caller asks for them (the health monitor, which checks
   * states every few seconds, never does), so keeping the view costs nothing per reading.
   */
  plcViews(): PlcView[] {
    return this.config.plcs.map((p) =>
      plcView(
        this.views.get(p.id) ?? {
          id: p.id,
          state: 'disconnected',
          since: new Date(this.startedAt).toISOString(),
          valuesRead: 0,
        },
        this.filters.get(p.id) ?? [],
      ),
    );
  }

  /** Tag values read per PLC since it was first seen (a removed PLC's count starts again if it comes back). */
  valuesRead(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, v] of this.views) out.set(id, v.valuesRead);
    return out;
  }

  uptimeSeconds(): number {
    return Math.round((Date.now() - this.startedAt) / 1000);
  }

  publishedCount(): number {
    return this.published;
  }

  private rebuildFilters(next: PlcConfig[], prev: PlcConfig[]): void {
    for (const p of next) {
      const old = prev.find((q) => q.id === p.id);
      const oldFilters = this.filters.get(p.id);
      if (old && isDeepStrictEqual(old, p) && oldFilters) continue;
      const filters = p.groups.map(
        (g) =>
          new ChangeFilter(g.tags, {
            fullReportMs: p.fullReportSeconds * 1000,
            // JSON has no NaN/Infinity: such a reading is published as bad quality rather than a wrong number.
            nonFiniteAsBad: true,
          }),
      );
      // The live view keeps showing what was read of the tags that stay, until they are read again.
      if (oldFilters) for (const f of filters) f.adoptLatest(oldFilters);
      this.filters.set(p.id, filters);
    }
    for (const id of [...this.filters.keys()])
      if (!next.some((p) => p.id === id)) this.filters.delete(id);
  }

  /**
   * Runs for every read of every group: the filter's one pass over the values decides what is
   * published and keeps the live view's per-tag state; nothing here copies or merges records.
   */
  private onReading(r: PlcReading): void {
    const filter = this.filters.get(r.plc)?.[r.group];
    if (!filter) return;
    const report = filter.apply(r, r.tsMs);
    const view = this.view(r.plc);
    view.lastReadTs = r.ts;
    view.valuesRead += filter.lastValueCount;
    if (!report) return;
    const { values, quality } = report;
    const valuesJson = filter.lastValuesJson;
    this.wmsLink.publishData(r.plc, { ts: r.ts, values, quality, valuesJson });
    this.published++;
    if (this.listenerCount('values') > 0)
      this.emit('values', {
        plc: r.plc,
        ts: r.ts,
        values,
        quality,
        full: report.full,
      } satisfies LiveValues);
  }

  private onStatus(id: string, status: PlcStatus): void {
    const view = this.view(id);
    const was = view.state;
    view.state = status.state;
    view.since = status.ts;
    if (status.error) view.error = status.error;
    else delete view.error;
    // After a reconnect the WMS gets a full picture again, not just changes.
    if (was === 'disconnected' && status.state !== 'disconnected')
      for (const f of this.filters.get(id) ?? []) f.reset();
    this.wmsLink.publishRetained(`plc/${id}/status`, {
      state: status.state,
      ...(status.error ? { error: status.error } : {}),
      ts: status.ts,
    });
    this.emit('status', { plc: id, status });
  }

  private view(id: string): PlcLinkView {
    let v = this.views.get(id);
    if (!v) {
      v = { id, state: 'disconnected', since: new Date().toISOString(), valuesRead: 0 };
      this.views.set(id, v);
    }
    return v;
  }
}

/** A PLC's view whose values and quality are built from its filters on first access, then kept. */
function plcView(link: PlcLinkView, filters: readonly ChangeFilter[]): PlcView {
  let values: Record<string, TagValue> | undefined;
  let quality: Record<string, 'bad'> | undefined;
  const build = () => {
    values = {};
    quality = {};
    for (const f of filters) f.latest(values, quality);
  };
  return {
    id: link.id,
    state: link.state,
    ...(link.error !== undefined && { error: link.error }),
    since: link.since,
    ...(link.lastReadTs !== undefined && { lastReadTs: link.lastReadTs }),
    get values() {
      if (!values) build();
      return values!;
    },
    get quality() {
      if (!quality) build();
      return quality!;
    },
  };
}
