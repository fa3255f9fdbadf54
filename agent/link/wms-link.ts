// The northbound link to the WMS (CONTRACT.md §3): durable data through the on-disk outbox, retained
// state topics re-sent on every connect, best-effort events, inbound subscriptions, heartbeats, alerts.
// This file is the connection's life (start, stop, up, down, reconfigure) and what is published on it;
// inbound dispatch is inbound-subscriptions.ts, outbox alerts outbox-alerts.ts, heartbeats heartbeat.ts.
import { EventEmitter } from 'node:events';
import type { WmsLinkEvents } from './wms-link-events.js';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { MqttClient } from 'mqtt';
import { Outbox, type WriteFailure } from '../outbox/outbox.js';
import { FLAG_GZIP } from '../outbox/record.js';
import { Connection, connectionKey } from './connection.js';
import { DataPump } from './data-pump.js';
import { failureKey } from './link-errors.js';
import { AttemptAlerts } from './attempt-alerts.js';
import { checkClientCertificate } from './cert-check.js';
import type { ClientPair } from './tls-material.js';
import { WmsConversation } from './wms-conversation.js';
import type { DataGate, DataRecord, LinkFormat } from './link-format.js';
import type { Logger } from '../../platform/logger.js';
import type {
  Alert,
  SubscribeOptions,
  WmsConfig,
  WmsLinkOptions,
  WmsLinkStats,
} from './wms-link-types.js';
import { InboundSubscriptions } from './inbound-subscriptions.js';
import { checkOutboxCapacity, watchOutbox, type OutboxWatch } from './outbox-alerts.js';
import { Heartbeat } from './heartbeat.js';
import { StatePublisher } from './state-publisher.js';

export type {
  Alert,
  HeartbeatExtras,
  SubscribeOptions,
  WmsConfig,
  WmsLinkOptions,
  WmsLinkStats,
} from './wms-link-types.js';
export { INBOUND_DROP_REPORT_MS } from './inbound-subscriptions.js';

/** How often the client certificate's expiry is checked (besides at start and on reconfigure). */
export const CERT_CHECK_INTERVAL_MS = 24 * 3600 * 1000;
/** stop() waits at most this long for in-flight data and the offline status to be acknowledged. */
export const STOP_FLUSH_MS = 2000;
/** Moving back to the primary waits at most this long for the fallback's PUBACKs of data in flight. */
export const MOVE_DRAIN_MS = 5000;

export class WmsLink extends EventEmitter<WmsLinkEvents> {
  private wms: WmsConfig;
  private readonly log: Logger;
  private readonly prefix: string;
  private outbox!: Outbox;
  private conn!: Connection;
  private pump!: DataPump;
  private outboxWatch!: OutboxWatch;
  private inbound: InboundSubscriptions;
  private heartbeat: Heartbeat;
  private state: StatePublisher;
  private client: MqttClient | undefined;
  private since: Date | undefined;
  private downSince: { at: number; buffered: number } | undefined;
  private attemptAlerts = new AttemptAlerts((...a) => void this.alert(...a));
  private reconnects = 0;
  private published = 0;
  private certTimer: NodeJS.Timeout | undefined;
  private started = false;
  private pair: ClientPair | undefined;
  private talk!: WmsConversation;
  private readonly format: LinkFormat | undefined;
  private dataOpen = false;

  constructor(private readonly opts: WmsLinkOptions) {
    super();
    this.wms = opts.wms;
    this.pair = opts.clientPair;
    this.log = opts.logger.child({ component: 'wms-link' });
    this.prefix = `wms/${opts.tenant}/${opts.gatewayId}/`;
    this.format = opts.format;
    this.state = new StatePublisher({
      log: this.log,
      prefix: this.prefix,
      version: opts.version,
      wms: () => this.wms,
      client: () => this.client,
      registration: opts.registration,
    });
    this.inbound = new InboundSubscriptions({
      log: this.log,
      prefix: this.prefix,
      wms: () => this.wms,
      client: () => this.client,
      talk: () => this.talk,
      format: this.format,
      alert: (level, code, message, extra) => void this.alert(level, code, message, extra),
      onMessage: (sub, payload, topic) => this.emit('message', sub, payload, { topic }),
    });
    this.heartbeat = new Heartbeat({
      log: this.log,
      dataDir: opts.dataDir,
      version: opts.version,
      connected: () => !!this.client?.connected,
      extras: () => this.opts.heartbeat?.(),
      outboxStats: () => this.outbox.stats(),
      outboxFull: () => this.outboxWatch?.full.state?.policy,
      publish: (payload) => this.publishEvent('heartbeat', payload),
    });
  }

  topic(subtopic: string): string {
    return this.prefix + subtopic;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const o = this.wms.outbox;
    this.outbox = new Outbox({
      dir: join(this.opts.dataDir, 'outbox'),
      maxBytes: o.maxBytes,
      policy: o.policy,
      segmentBytes: o.segmentBytes,
      fsync: o.fsync,
      fsyncIntervalMs: o.fsyncIntervalMs,
      checkpointIntervalMs: o.checkpointIntervalMs,
      readAheadBytes: o.readAheadBytes,
      logger: this.log,
      delivery: this.wms.delivery,
    });
    this.outbox.open();
    this.checkCapacity();
    this.outboxWatch = watchOutbox(this.outbox, (...a) => void this.alert(...a), {
      failure: (f: WriteFailure) => this.emit('outbox-write-failure', f),
      recovered: (f: WriteFailure) => this.emit('outbox-write-recovered', f),
      full: (s) => this.emit('outbox-full', s),
    });
    this.pump = new DataPump({
      outbox: this.outbox,
      topicFor: (plc) => this.topic(`plc/${plc}/data`),
      qos: this.wms.qos,
      protocolVersion: this.wms.protocolVersion,
      inflight: o.inflight,
      onPublished: (n) => (this.published += n),
      ...(this.format && { render: this.format.render.bind(this.format) }),
    });
    this.outbox.on('appended', () => this.pump.schedule());
    this.talk = new WmsConversation({
      tenant: this.opts.tenant,
      outbox: this.outbox,
      logger: this.log,
      wms: () => this.wms,
      knownPlc: this.opts.knownPlc ?? (() => true),
      connected: () => !!this.client?.connected,
      schedulePump: () => this.pump.schedule(),
      alert: (level, code, message, extra) => this.alert(level, code, message, extra),
      onPeerChange: (v) => this.emit('peer', v),
    });
    this.talk.start();
    this.conn = new Connection({
      wms: this.wms,
      clientId: `wmsgw-${this.opts.tenant}-${this.opts.gatewayId}`,
      will: this.format
        ? () => this.format!.will()
        : { topic: this.topic('status'), ...this.state.encode({ state: 'offline' }) },
      logger: this.log,
      keyPassphrase: this.opts.keyPassphrase,
      pair: () => this.pair,
      beforeMove: async () => {
        const left = await this.pump.drain(MOVE_DRAIN_MS);
        this.log.info({ resent: left }, 'in-flight data acknowledged before the move');
      },
    });
    this.conn.on('up', (c: MqttClient, url: string) => this.onUp(c, url));
    this.conn.on('down', (err?: Error) => this.onDown(err));
    this.conn.on('attempt-failed', (err: Error, url: string, delayMs: number) =>
      this.onAttemptFailed(err, url, delayMs),
    );
    this.checkCertificate();
    this.certTimer = setInterval(() => this.checkCertificate(), CERT_CHECK_INTERVAL_MS);
    this.certTimer.unref();
    this.heartbeat.start(this.wms.heartbeatSeconds);
    this.conn.start();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.heartbeat.stop();
    clearInterval(this.certTimer);
    this.talk.stop();
    this.outboxWatch.drops.flush();
    this.outboxWatch.full.stop();
    const client = this.client;
    if (client?.connected) {
      const deadline = Date.now() + STOP_FLUSH_MS;
      while (this.outbox.inflight > 0 && Date.now() < deadline) await sleep(20);
      const offline = { state: 'offline', ts: new Date().toISOString() };
      await withTimeout(
        Promise.all([
          new Promise<void>((resolve) => this.state.send(client, 'status', offline, true, resolve)),
          this.format?.close(client),
        ]).then(() => undefined),
        Math.max(100, deadline - Date.now()),
      );
    }
    this.pump.detach();
    this.client = undefined;
    await this.conn.stop();
    this.outbox.close();
    this.log.info('WMS link stopped');
  }

  publishData(plc: string, data: DataRecord): void {
    const format = this.format;
    if (format) {
      this.outbox.enqueue(plc, 0, (seq) => format.record(plc, seq, data));
      return;
    }
    const gzip = this.wms.compression === 'gzip';
    const { tenant, gatewayId } = this.opts;
    const valuesJson = data.valuesJson;
    this.outbox.enqueue(plc, gzip ? FLAG_GZIP : 0, (seq) => {
      // The same text as JSON.stringify of the message object, with the values rendered already
      // (the change filter's pass): this runs for every message, and the values are most of it.
      const json =
        valuesJson === undefined
          ? JSON.stringify({
              tenant,
              gateway: gatewayId,
              plc,
              seq,
              ts: data.ts,
              values: data.values,
              quality: data.quality,
            })
          : `{"tenant":${JSON.stringify(tenant)},"gateway":${JSON.stringify(gatewayId)},"plc":${JSON.stringify(plc)},"seq":${seq},"ts":${JSON.stringify(data.ts)},"values":${valuesJson},"quality":${JSON.stringify(data.quality)}}`;
      return gzip ? gzipSync(json) : json;
    });
  }

  publishRetained(subtopic: string, payload: unknown): void {
    this.state.publishRetained(subtopic, payload);
  }

  /** Events are best effort: the promise resolves once acknowledged, or at once when queued while down. */
  publishEvent(subtopic: string, payload: unknown): Promise<void> {
    return this.state.publishEvent(subtopic, payload);
  }

  /** Raise an alert; resolves when the broker acknowledged it (at once when it was only queued). */
  alert(
    level: 'warning' | 'critical',
    code: string,
    message: string,
    extra: object = {},
  ): Promise<void> {
    const a: Alert = { ts: new Date().toISOString(), level, code, message, ...extra };
    this.log[level === 'critical' ? 'error' : 'warn']({ alert: code, ...extra }, message);
    this.emit('alert', a);
    return this.publishEvent('alerts', a);
  }

  /**
   * Handle messages on subtopic through a bounded queue (wms.inbound): what does not fit is dropped,
   * counted, reported (log + alert inbound-queue-full, at most every 10 s) and given to opts.onDrop.
   * The handler may return a promise: the queue waits for it before starting the next one.
   */
  subscribe(
    subtopic: string,
    handler: (payload: Buffer) => unknown,
    opts: SubscribeOptions = {},
  ): void {
    this.inbound.subscribe(subtopic, handler, opts);
  }

  async reconfigure(wms: WmsConfig): Promise<void> {
    const before = this.wms;
    this.wms = wms;
    if (!this.started) return;
    this.outbox.setLimits({ maxBytes: wms.outbox.maxBytes, policy: wms.outbox.policy });
    this.inbound.reconfigure();
    if (before.outbox.maxBytes !== wms.outbox.maxBytes) this.checkCapacity();
    this.talk.reconfigure(before, wms);
    this.pump.schedule();
    this.pump.set({
      qos: wms.qos,
      protocolVersion: wms.protocolVersion,
      inflight: wms.outbox.inflight,
    });
    if (before.heartbeatSeconds !== wms.heartbeatSeconds)
      this.heartbeat.start(wms.heartbeatSeconds);
    const reconnect = connectionKey(before, this.pair) !== connectionKey(wms, this.pair);
    this.log.info({ urls: wms.urls, reconnect }, 'WMS link reconfigured');
    this.conn.update(wms, reconnect);
    this.checkCertificate();
  }

  /** The client pair in use: a renewed identity, or undefined for wms.tls.cert/key. */
  get clientPair(): ClientPair | undefined {
    return this.pair;
  }

  /**
   * Use another client certificate and key (identity renewal, or going back to the old pair) and reconnect
   * with it. Data stays in the outbox meanwhile, so seq has no gap.
   */
  setClientPair(pair: ClientPair | undefined): void {
    this.pair = pair;
    if (!this.started) return;
    this.log.info(
      { cert: pair?.cert ?? 'wms.tls.cert' },
      'client certificate changed: reconnecting',
    );
    this.conn.update(this.wms, true);
    this.checkCertificate();
  }

  stats(): WmsLinkStats {
    const o = this.outbox?.stats();
    const s: WmsLinkStats = {
      connected: !!this.client?.connected,
      reconnects: this.reconnects,
      published: this.published,
      outbox: { messages: o?.messages ?? 0, bytes: o?.bytes ?? 0, dropped: o?.dropped ?? 0 },
      inbound: this.inbound.stats(),
      delivery: this.wms.delivery,
      ...(this.talk?.stats() ?? {
        peer: { state: 'off', periodSeconds: this.wms.peerHeartbeatSeconds },
        acks: { applied: 0, stale: 0, refused: 0 },
      }),
    };
    if (o?.oldestTs) s.outbox.oldestTs = o.oldestTs;
    if (o?.writeFailure) s.outbox.writeFailure = o.writeFailure;
    const full = this.outboxWatch?.full.state;
    if (full) s.outbox.full = { ...full };
    if (this.client && this.conn.url) s.url = this.conn.url;
    if (this.since) s.since = this.since.toISOString();
    return s;
  }

  /** Delete fully acknowledged outbox segments now (the maintenance job calls this). */
  compact(): { segments: number; bytes: number } {
    return this.outbox.compact();
  }

  // ---- connection events ----

  private onUp(client: MqttClient, url: string): void {
    const switched = this.client !== undefined;
    this.client = client;
    this.since = new Date();
    if (switched || this.downSince) this.reconnects++;
    this.attemptAlerts.clear();
    client.on('message', (topic, payload, packet) =>
      this.inbound.dispatch(topic, payload, packet.properties?.contentType),
    );
    this.inbound.resubscribe(client);
    this.talk.onUp(client, (sub) => this.topic(sub));
    this.state.birth(client, this.since);
    this.dataOpen = false;
    if (this.format) this.format.up(client, this.dataGate(client));
    else this.openData(client);
    this.state.flushEvents(client);
    this.log.info({ url }, 'WMS connected');
    if (this.downSince) {
      const outageMs = Date.now() - this.downSince.at;
      const buffered = this.outbox.stats().messages;
      this.downSince = undefined;
      this.alert(
        'warning',
        'wms.connection-restored',
        `WMS connection restored after ${(outageMs / 1000).toFixed(1)} s; ${buffered} messages buffered`,
        { url, outageMs, buffered },
      );
    }
    this.emit('connected', { url });
  }

  private onDown(err?: Error): void {
    this.client = undefined;
    this.since = undefined;
    this.dataOpen = false;
    this.pump.detach();
    this.talk.onDown();
    this.format?.down();
    if (!this.downSince) {
      this.downSince = { at: Date.now(), buffered: this.outbox.stats().messages };
      this.alert(
        'warning',
        'wms.connection-lost',
        `WMS connection lost${err ? `: ${err.message}` : ''}`,
      );
    }
    this.emit('disconnected', err ? { error: err } : {});
  }

  private onAttemptFailed(err: Error, url: string, delayMs: number): void {
    this.log.warn(
      { url, err: err.message, kind: failureKey(err), retryInMs: delayMs },
      'WMS connection attempt failed',
    );
    if (!this.downSince)
      this.downSince = { at: Date.now(), buffered: this.outbox.stats().messages };
    this.emit('attempt-failed', err, url);
    this.attemptAlerts.failed(err, url, delayMs);
  }

  private openData(client: MqttClient): void {
    if (this.dataOpen || this.client !== client) return;
    this.dataOpen = true;
    this.pump.attach(client);
  }

  /** The format's hold on data for one connection: a gate of an old connection does nothing. */
  private dataGate(client: MqttClient): DataGate {
    return {
      resume: () => this.openData(client),
      pause: () => {
        if (!this.dataOpen || this.client !== client) return;
        this.dataOpen = false;
        this.pump.detach();
      },
    };
  }

  /** Publish `register` again now (what it says changed: PLCs, slot); it goes out on every connect anyway. */
  resendRegistration(): void {
    if (this.client?.connected) this.state.sendRegistration(this.client);
  }

  // ---- periodic work ----

  /** An outbox bound the file system cannot hold is reported at start (and on reconfigure). */
  private checkCapacity(): void {
    const alert = (...a: Parameters<WmsLink['alert']>) => void this.alert(...a);
    const dir = join(this.opts.dataDir, 'outbox');
    checkOutboxCapacity(dir, this.wms.outbox.maxBytes, this.outbox, alert, this.log);
  }

  private checkCertificate(): void {
    const tls = this.pair ? { ...this.wms.tls, ...this.pair } : this.wms.tls;
    for (const a of checkClientCertificate(tls)) this.alert(a.level, a.code, a.message, a.extra);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}
