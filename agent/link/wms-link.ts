// The northbound link to the WMS (CONTRACT.md §3): durable data through the on-disk outbox, retained
// state topics re-sent on every connect, best-effort events, inbound subscriptions, heartbeats, alerts.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { MqttClient } from 'mqtt';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../../platform/logger.js';
import { Outbox, type DropEvent } from '../outbox/outbox.js';
import { FLAG_GZIP } from '../outbox/record.js';
import { Connection, connectionKey } from './connection.js';
import { DataPump } from './data-pump.js';
import { DropReporter, describeDrops, type DropSummary } from './drop-reporter.js';
import {
  failureKey,
  isBrokerConnectError,
  isTlsMaterialError,
  isWmsTlsError,
} from './link-errors.js';
import { systemMetrics } from './system-metrics.js';
import { checkClientCertificate } from './cert-check.js';

export type WmsConfig = GatewayConfig['wms'];
export type PlcState = 'connected' | 'disconnected' | 'degraded';
export interface HeartbeatExtras {
  plcs: Record<string, PlcState | string>;
  [k: string]: unknown;
}
export interface Alert {
  ts: string;
  level: 'warning' | 'critical';
  code: string;
  message: string;
  [k: string]: unknown;
}

export interface WmsLinkOptions {
  tenant: string;
  gatewayId: string;
  dataDir: string;
  version: string;
  wms: WmsConfig;
  logger: Logger;
  heartbeat?: () => Promise<HeartbeatExtras> | HeartbeatExtras;
}

export interface WmsLinkStats {
  connected: boolean;
  url?: string;
  since?: string;
  reconnects: number;
  published: number;
  outbox: { messages: number; bytes: number; dropped: number; oldestTs?: string };
}

/** How often the client certificate's expiry is checked (besides at start and on reconfigure). */
export const CERT_CHECK_INTERVAL_MS = 24 * 3600 * 1000;
/** stop() waits at most this long for in-flight data and the offline status to be acknowledged. */
export const STOP_FLUSH_MS = 2000;

export class WmsLink extends EventEmitter {
  private wms: WmsConfig;
  private readonly log: Logger;
  private readonly prefix: string;
  private outbox!: Outbox;
  private conn!: Connection;
  private pump!: DataPump;
  private drops!: DropReporter;
  private retained = new Map<string, unknown>();
  private handlers = new Map<string, (payload: Buffer, props: { topic: string }) => void>();
  private events: { subtopic: string; payload: unknown }[] = [];
  private eventsDropped = 0;
  private client: MqttClient | undefined;
  private since: Date | undefined;
  private downSince: { at: number; buffered: number } | undefined;
  private alertedFailures = new Set<string>();
  private reconnects = 0;
  private published = 0;
  private hbTimer: NodeJS.Timeout | undefined;
  private certTimer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(private readonly opts: WmsLinkOptions) {
    super();
    this.wms = opts.wms;
    this.log = opts.logger.child({ component: 'wms-link' });
    this.prefix = `wms/${opts.tenant}/${opts.gatewayId}/`;
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
    });
    this.outbox.open();
    this.drops = new DropReporter((s) => this.reportDrops(s));
    this.outbox.on('dropped', (e: DropEvent) => this.drops.add(e));
    this.pump = new DataPump({
      outbox: this.outbox,
      topicFor: (plc) => this.topic(`plc/${plc}/data`),
      qos: this.wms.qos,
      protocolVersion: this.wms.protocolVersion,
      inflight: o.inflight,
      onPublished: (n) => (this.published += n),
    });
    this.outbox.on('appended', () => this.pump.schedule());
    this.conn = new Connection({
      wms: this.wms,
      clientId: `wmsgw-${this.opts.tenant}-${this.opts.gatewayId}`,
      will: { topic: this.topic('status'), ...this.encode({ state: 'offline' }) },
      logger: this.log,
    });
    this.conn.on('up', (c: MqttClient, url: string) => this.onUp(c, url));
    this.conn.on('down', (err?: Error) => this.onDown(err));
    this.conn.on('attempt-failed', (err: Error, url: string, delayMs: number) =>
      this.onAttemptFailed(err, url, delayMs),
    );
    this.checkCertificate();
    this.certTimer = setInterval(() => this.checkCertificate(), CERT_CHECK_INTERVAL_MS);
    this.certTimer.unref();
    this.startHeartbeat();
    this.conn.start();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    clearInterval(this.hbTimer);
    clearInterval(this.certTimer);
    this.drops.flush();
    const client = this.client;
    if (client?.connected) {
      const deadline = Date.now() + STOP_FLUSH_MS;
      while (this.outbox.inflight > 0 && Date.now() < deadline) await sleep(20);
      const offline = { state: 'offline', ts: new Date().toISOString() };
      await withTimeout(
        new Promise<void>((resolve) => this.send(client, 'status', offline, true, resolve)),
        Math.max(100, deadline - Date.now()),
      );
    }
    this.pump.detach();
    this.client = undefined;
    await this.conn.stop();
    this.outbox.close();
    this.log.info('WMS link stopped');
  }

  publishData(
    plc: string,
    data: { ts: string; values: Record<string, unknown>; quality: Record<string, 'bad'> },
  ): void {
    const gzip = this.wms.compression === 'gzip';
    const { tenant, gatewayId } = this.opts;
    this.outbox.append(plc, gzip ? FLAG_GZIP : 0, (seq) => {
      const json = Buffer.from(
        JSON.stringify({
          tenant,
          gateway: gatewayId,
          plc,
          seq,
          ts: data.ts,
          values: data.values,
          quality: data.quality,
        }),
      );
      return gzip ? gzipSync(json) : json;
    });
  }

  publishRetained(subtopic: string, payload: unknown): void {
    this.retained.set(subtopic, payload);
    if (this.client?.connected) this.send(this.client, subtopic, payload, true);
  }

  /** Events are best effort: the promise resolves once acknowledged, or at once when queued while down. */
  publishEvent(subtopic: string, payload: unknown): Promise<void> {
    const client = this.client;
    if (client?.connected)
      return new Promise((resolve) => this.send(client, subtopic, payload, false, resolve));
    this.events.push({ subtopic, payload });
    if (this.events.length > this.wms.eventQueueLength) {
      const old = this.events.shift()!;
      this.eventsDropped++;
      this.log.warn(
        { topic: old.subtopic, dropped: this.eventsDropped, limit: this.wms.eventQueueLength },
        'event queue full while disconnected: oldest event dropped',
      );
    }
    return Promise.resolve();
  }

  private send(
    client: MqttClient,
    subtopic: string,
    value: unknown,
    retain: boolean,
    done?: () => void,
  ): void {
    const { payload, properties } = this.encode(value);
    const opts = { qos: 1 as const, retain, ...(properties && { properties }) };
    client.publish(this.topic(subtopic), payload, opts, (err) => {
      if (err) this.log.debug({ topic: subtopic, err: err.message }, 'publish not acknowledged');
      done?.();
    });
  }

  alert(level: 'warning' | 'critical', code: string, message: string, extra: object = {}): void {
    const a: Alert = { ts: new Date().toISOString(), level, code, message, ...extra };
    this.log[level === 'critical' ? 'error' : 'warn']({ alert: code, ...extra }, message);
    this.emit('alert', a);
    void this.publishEvent('alerts', a);
  }

  subscribe(subtopic: string, handler: (payload: Buffer, props: { topic: string }) => void): void {
    this.handlers.set(subtopic, handler);
    this.client?.subscribe(this.topic(subtopic), { qos: 1 });
  }

  async reconfigure(wms: WmsConfig): Promise<void> {
    const before = this.wms;
    this.wms = wms;
    if (!this.started) return;
    this.outbox.setLimits({ maxBytes: wms.outbox.maxBytes, policy: wms.outbox.policy });
    this.pump.set({
      qos: wms.qos,
      protocolVersion: wms.protocolVersion,
      inflight: wms.outbox.inflight,
    });
    if (before.heartbeatSeconds !== wms.heartbeatSeconds) this.startHeartbeat();
    const reconnect = connectionKey(before) !== connectionKey(wms);
    this.log.info({ urls: wms.urls, reconnect }, 'WMS link reconfigured');
    this.conn.update(wms, reconnect);
    this.checkCertificate();
  }

  stats(): WmsLinkStats {
    const o = this.outbox?.stats();
    const s: WmsLinkStats = {
      connected: !!this.client?.connected,
      reconnects: this.reconnects,
      published: this.published,
      outbox: { messages: o?.messages ?? 0, bytes: o?.bytes ?? 0, dropped: o?.dropped ?? 0 },
    };
    if (o?.oldestTs) s.outbox.oldestTs = o.oldestTs;
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
    this.alertedFailures.clear();
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    for (const sub of this.handlers.keys()) client.subscribe(this.topic(sub), { qos: 1 });
    const birth = { state: 'online', version: this.opts.version, ts: this.since.toISOString() };
    this.send(client, 'status', birth, true);
    for (const [sub, v] of this.retained) this.send(client, sub, v, true);
    this.pump.attach(client);
    for (const e of this.events.splice(0)) this.send(client, e.subtopic, e.payload, false);
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
    this.pump.detach();
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
    const key = `${failureKey(err)}@${url}`;
    if (this.alertedFailures.has(key)) return;
    this.alertedFailures.add(key);
    const level = isWmsTlsError(err) || isTlsMaterialError(err) ? 'critical' : 'warning';
    const kind = isWmsTlsError(err) ? err.kind : isBrokerConnectError(err) ? err.kind : undefined;
    this.alert(level, `wms.${failureKey(err)}`, err.message, {
      url,
      ...(kind && { kind }),
      retryInMs: delayMs,
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (!topic.startsWith(this.prefix)) return;
    const sub = topic.slice(this.prefix.length);
    if (payload.length > this.wms.maxPayloadBytes) {
      this.log.warn(
        { topic: sub, bytes: payload.length, limit: this.wms.maxPayloadBytes },
        'inbound message over wms.maxPayloadBytes dropped',
      );
      return;
    }
    this.emit('message', sub, payload, { topic });
    const h = this.handlers.get(sub);
    if (!h) return;
    try {
      h(payload, { topic });
    } catch (e) {
      this.log.error({ topic: sub, err: (e as Error).message }, 'inbound message handler failed');
    }
  }

  // ---- periodic work ----

  private startHeartbeat(): void {
    clearInterval(this.hbTimer);
    this.hbTimer = setInterval(() => void this.sendHeartbeat(), this.wms.heartbeatSeconds * 1000);
    this.hbTimer.unref();
  }

  private async sendHeartbeat(): Promise<void> {
    if (!this.client?.connected) return; // a heartbeat is about now: not queued while disconnected
    try {
      const extras = (await this.opts.heartbeat?.()) ?? { plcs: {} };
      const o = this.outbox.stats();
      await this.publishEvent('heartbeat', {
        ts: new Date().toISOString(),
        uptime: Math.round(process.uptime()),
        ...(await systemMetrics(this.opts.dataDir)),
        ...extras,
        outbox: { messages: o.messages, bytes: o.bytes },
        version: this.opts.version,
      });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'heartbeat failed');
    }
  }

  private checkCertificate(): void {
    for (const a of checkClientCertificate(this.wms.tls))
      this.alert(a.level, a.code, a.message, a.extra);
  }

  private reportDrops(s: DropSummary): void {
    const total = this.outbox.stats().dropped;
    this.alert('critical', `outbox.${s.reason}`, describeDrops(s, total), {
      dropped: s.messages,
      droppedTotal: total,
      plcs: s.keys,
    });
  }

  private encode(value: unknown): { payload: Buffer; properties?: { contentType: string } } {
    const json = Buffer.from(JSON.stringify(value));
    if (this.wms.compression !== 'gzip') return { payload: json };
    return this.wms.protocolVersion === 5
      ? { payload: gzipSync(json), properties: { contentType: 'application/gzip' } }
      : { payload: gzipSync(json) };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}
