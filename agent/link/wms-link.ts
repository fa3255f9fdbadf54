// The northbound link to the WMS (CONTRACT.md §3): durable data through the on-disk outbox, retained
// state topics re-sent on every connect, best-effort events, inbound subscriptions, heartbeats, alerts.
import { EventEmitter } from 'node:events';
import type { WmsLinkEvents } from './wms-link-events.js';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { PlcState } from '../../plc/poller/types.js';
import type { MqttClient } from 'mqtt';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../../platform/logger.js';
import { Outbox, type DropEvent, type WriteFailure } from '../outbox/outbox.js';
import { FLAG_GZIP } from '../outbox/record.js';
import { outboxCapacity } from '../outbox/capacity.js';
import { InboundQueue, type InboundQueueStats } from './inbound-queue.js';
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
import type { ClientPair } from './tls-material.js';
import type { AckCounters } from './wms-ack.js';
import type { PeerView } from './wms-peer.js';
import { WmsConversation } from './wms-conversation.js';
import { decodeInbound } from './inbound.js';
import type { DataGate, LinkFormat } from './link-format.js';

export type WmsConfig = GatewayConfig['wms'];
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
  /** WMS_KEY_PASSPHRASE, for an encrypted client key (never logged). */
  keyPassphrase?: string | undefined;
  /** The client pair to start with when it is not wms.tls.cert/key (a renewed identity). */
  clientPair?: ClientPair | undefined;
  /** The `register` payload (without ts), published retained on every connect (CONTRACT.md §8). */
  registration?: () => Record<string, unknown>;
  /** Whether a PLC id is configured (a WMS ack for another one is refused). */
  knownPlc?: (plc: string) => boolean;
  /** Data in another format than plc/{plc}/data JSON (wms.format: sparkplug-b). */
  format?: LinkFormat;
}

export interface WmsLinkStats {
  connected: boolean;
  url?: string;
  since?: string;
  reconnects: number;
  published: number;
  outbox: {
    messages: number;
    bytes: number;
    dropped: number;
    oldestTs?: string;
    /** Set while the outbox cannot write (a full disk): new readings are dropped and counted. */
    writeFailure?: WriteFailure;
  };
  /** Per inbound topic: messages received and dropped because its queue was full. */
  inbound: Record<string, InboundQueueStats>;
  delivery: 'broker' | 'wms-ack';
  /** The WMS's own heartbeat, as watched on the tenant-wide topic. */
  peer: PeerView;
  acks: AckCounters;
}

export interface SubscribeOptions {
  /** Handler calls of this topic running at once (default 1). */
  concurrency?: number;
  /** Messages that waited longer than this in the queue are dropped (onDrop) instead of handled. */
  maxWaitMs?: number;
  /** At most one handler start per this interval (rare, costly topics such as config/set). */
  minIntervalMs?: number;
  /** A message dropped because the topic's queue is full: answer it cheaply (no disk, no crypto). */
  onDrop?: (payload: Buffer) => void;
}

/** At most one log line + alert per topic about queue drops in this interval. */
export const INBOUND_DROP_REPORT_MS = 10_000;

/** How often the client certificate's expiry is checked (besides at start and on reconfigure). */
export const CERT_CHECK_INTERVAL_MS = 24 * 3600 * 1000;
/** stop() waits at most this long for in-flight data and the offline status to be acknowledged. */
export const STOP_FLUSH_MS = 2000;

export class WmsLink extends EventEmitter<WmsLinkEvents> {
  private wms: WmsConfig;
  private readonly log: Logger;
  private readonly prefix: string;
  private outbox!: Outbox;
  private conn!: Connection;
  private pump!: DataPump;
  private drops!: DropReporter;
  private retained = new Map<string, unknown>();
  private handlers = new Map<string, InboundQueue>();
  private inboundDropReport = new Map<string, { at: number; reported: number }>();
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
    this.drops = new DropReporter((s) => this.reportDrops(s));
    this.outbox.on('dropped', (e: DropEvent) => this.drops.add(e));
    this.outbox.on('write-failure', (f: WriteFailure) => {
      const full = f.code === 'ENOSPC' || f.code === 'EDQUOT';
      this.alert(
        'critical',
        full ? 'disk-full' : 'outbox-write-failed',
        `${full ? 'file system of the outbox is full' : 'outbox cannot write'} (${f.code}): new readings are dropped until it can write again`,
        { errno: f.code },
      );
      this.emit('outbox-write-failure', f);
    });
    this.outbox.on('write-recovered', (f: WriteFailure) => {
      const dropped = this.outbox.stats().dropped;
      this.alert(
        'warning',
        'disk-ok',
        `outbox writing again since ${f.since} failure (${f.code})`,
        {
          since: f.since,
          droppedTotal: dropped,
        },
      );
      this.emit('outbox-write-recovered', f);
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
        : { topic: this.topic('status'), ...this.encode({ state: 'offline' }) },
      logger: this.log,
      keyPassphrase: this.opts.keyPassphrase,
      pair: () => this.pair,
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
    this.talk.stop();
    this.drops.flush();
    const client = this.client;
    if (client?.connected) {
      const deadline = Date.now() + STOP_FLUSH_MS;
      while (this.outbox.inflight > 0 && Date.now() < deadline) await sleep(20);
      const offline = { state: 'offline', ts: new Date().toISOString() };
      await withTimeout(
        Promise.all([
          new Promise<void>((resolve) => this.send(client, 'status', offline, true, resolve)),
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

  publishData(
    plc: string,
    data: { ts: string; values: Record<string, unknown>; quality: Record<string, 'bad'> },
  ): void {
    const format = this.format;
    if (format) {
      this.outbox.enqueue(plc, 0, (seq) => format.record(plc, seq, data));
      return;
    }
    const gzip = this.wms.compression === 'gzip';
    const { tenant, gatewayId } = this.opts;
    this.outbox.enqueue(plc, gzip ? FLAG_GZIP : 0, (seq) => {
      const json = JSON.stringify({
        tenant,
        gateway: gatewayId,
        plc,
        seq,
        ts: data.ts,
        values: data.values,
        quality: data.quality,
      });
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
    const guarded = async (payload: Buffer) => {
      try {
        await handler(payload);
      } catch (e) {
        this.log.error(
          { topic: subtopic, err: (e as Error).message },
          'inbound message handler failed',
        );
      }
    };
    const q = new InboundQueue(
      guarded,
      {
        ...this.queueOptions(opts.concurrency ?? 1),
        maxWaitMs: opts.maxWaitMs,
        minIntervalMs: opts.minIntervalMs,
      },
      (payload, dropped) => {
        opts.onDrop?.(payload);
        this.reportInboundDrop(subtopic, dropped);
      },
    );
    this.handlers.set(subtopic, q);
    this.client?.subscribe(this.topic(subtopic), { qos: 1 });
  }

  private queueOptions(concurrency: number) {
    const b = this.wms.inbound;
    return { maxMessages: b.queueLength, maxBytes: b.queueBytes, concurrency };
  }

  private reportInboundDrop(subtopic: string, dropped: number): void {
    const r = this.inboundDropReport.get(subtopic) ?? { at: 0, reported: 0 };
    const now = Date.now();
    if (now - r.at < INBOUND_DROP_REPORT_MS) return;
    const n = dropped - r.reported;
    this.inboundDropReport.set(subtopic, { at: now, reported: dropped });
    this.alert(
      'warning',
      'inbound-queue-full',
      `${subtopic}: ${n} inbound messages dropped, its queue is full (wms.inbound); ${dropped} in total`,
      { topic: subtopic, dropped: n, droppedTotal: dropped },
    );
  }

  async reconfigure(wms: WmsConfig): Promise<void> {
    const before = this.wms;
    this.wms = wms;
    if (!this.started) return;
    this.outbox.setLimits({ maxBytes: wms.outbox.maxBytes, policy: wms.outbox.policy });
    for (const q of this.handlers.values())
      q.set({ ...q.options, ...this.queueOptions(q.options.concurrency) });
    if (before.outbox.maxBytes !== wms.outbox.maxBytes) this.checkCapacity();
    this.talk.reconfigure(before, wms);
    this.pump.schedule();
    this.pump.set({
      qos: wms.qos,
      protocolVersion: wms.protocolVersion,
      inflight: wms.outbox.inflight,
    });
    if (before.heartbeatSeconds !== wms.heartbeatSeconds) this.startHeartbeat();
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
      inbound: Object.fromEntries([...this.handlers].map(([t, q]) => [t, q.stats()])),
      delivery: this.wms.delivery,
      ...(this.talk?.stats() ?? {
        peer: { state: 'off', periodSeconds: this.wms.peerHeartbeatSeconds },
        acks: { applied: 0, stale: 0, refused: 0 },
      }),
    };
    if (o?.oldestTs) s.outbox.oldestTs = o.oldestTs;
    if (o?.writeFailure) s.outbox.writeFailure = o.writeFailure;
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
    client.on('message', (topic, payload, packet) =>
      this.onMessage(topic, payload, packet.properties?.contentType),
    );
    for (const sub of this.handlers.keys()) client.subscribe(this.topic(sub), { qos: 1 });
    this.talk.onUp(client, (sub) => this.topic(sub));
    const birth = { state: 'online', version: this.opts.version, ts: this.since.toISOString() };
    this.send(client, 'status', birth, true);
    this.sendRegistration(client);
    for (const [sub, v] of this.retained) this.send(client, sub, v, true);
    this.dataOpen = false;
    if (this.format) this.format.up(client, this.dataGate(client));
    else this.openData(client);
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

  private onMessage(topic: string, raw: Buffer, contentType?: string): void {
    const peer = topic === this.talk.peerTopic;
    const ours = topic.startsWith(this.prefix);
    // Topics outside the gateway's prefix: the WMS heartbeat, and the data format's own (Sparkplug).
    if (!peer && !ours && !this.format) return;
    const sub = ours ? topic.slice(this.prefix.length) : topic;
    if (raw.length > this.wms.maxPayloadBytes) {
      this.log.warn(
        { topic: sub, bytes: raw.length, limit: this.wms.maxPayloadBytes },
        'inbound message over wms.maxPayloadBytes dropped',
      );
      return;
    }
    let payload: Buffer;
    try {
      payload = decodeInbound(raw, contentType, this.wms.maxPayloadBytes);
    } catch (e) {
      this.log.warn({ topic: sub, err: (e as Error).message }, 'inbound gzip message dropped');
      return;
    }
    if (peer) return this.talk.onPeerHeartbeat(payload);
    if (!ours) {
      try {
        this.format?.message(topic, payload);
      } catch (e) {
        this.log.error({ topic, err: (e as Error).message }, 'inbound message handler failed');
      }
      return;
    }
    if (this.talk.routeAck(sub, payload)) return;
    this.emit('message', sub, payload, { topic });
    this.handlers.get(sub)?.push(payload);
  }

  /** Publish `register` again now (what it says changed: PLCs, slot); it goes out on every connect anyway. */
  resendRegistration(): void {
    if (this.client?.connected) this.sendRegistration(this.client);
  }

  private sendRegistration(client: MqttClient): void {
    const reg = this.opts.registration?.();
    if (!reg) return;
    this.send(client, 'register', { ...reg, ts: new Date().toISOString() }, true);
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
        outbox: {
          messages: o.messages,
          bytes: o.bytes,
          dropped: o.dropped,
          ...(o.writeFailure && { writeFailure: o.writeFailure.code }),
        },
        version: this.opts.version,
      });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'heartbeat failed');
    }
  }

  /** An outbox bound the file system cannot hold is reported at start (and on reconfigure). */
  private checkCapacity(): void {
    try {
      const c = outboxCapacity(
        join(this.opts.dataDir, 'outbox'),
        this.wms.outbox.maxBytes,
        this.outbox.stats().diskBytes,
      );
      if (c.fits) return;
      this.alert('warning', 'outbox-bound-exceeds-disk', c.message, {
        maxBytes: c.maxBytes,
        availableBytes: c.availableBytes,
        fsBytes: c.fsBytes,
      });
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'outbox capacity could not be checked');
    }
  }

  private checkCertificate(): void {
    const tls = this.pair ? { ...this.wms.tls, ...this.pair } : this.wms.tls;
    for (const a of checkClientCertificate(tls)) this.alert(a.level, a.code, a.message, a.extra);
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
