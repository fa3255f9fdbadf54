// One live MQTT connection to the first reachable URL of wms.urls, with our own reconnect loop around
// mqtt.js (reconnectPeriod 0): capped exponential backoff with jitter, URLs tried in order, and while on a
// fallback the first URL is retried every primaryRetrySeconds and taken back as soon as it answers.
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../../platform/logger.js';
import { Backoff } from '../../platform/backoff.js';
import { BrokerConnectError, classifyConnectError } from './link-errors.js';
import { loadTlsMaterial, type ClientPair } from './tls-material.js';

type Wms = GatewayConfig['wms'];

export interface Will {
  topic: string;
  payload: Buffer;
  properties?: { contentType?: string };
  /** Default true (our retained status); a Sparkplug NDEATH is not retained. */
  retain?: boolean;
}

export interface ConnectionOptions {
  wms: Wms;
  clientId: string;
  /** A function is asked once per connection attempt (a Sparkplug will carries a new bdSeq each time). */
  will: Will | (() => Will);
  logger: Logger;
  /** WMS_KEY_PASSPHRASE, for an encrypted client key. */
  keyPassphrase?: string | undefined;
  /** The client pair in force when it is not wms.tls.cert/key (a renewed identity), read at each attempt. */
  pair?: () => ClientPair | undefined;
  /**
   * Before moving back to the primary (the new connection is up, the old one still open): resolves when
   * what is in flight on the old one is acknowledged (or a bound passed), so it is not sent twice.
   */
  beforeMove?: (old: MqttClient) => Promise<void>;
}

/** mqtt.js adds this much beyond the payload; the MQTT 5 maximumPacketSize we announce allows for it. */
const PACKET_OVERHEAD_BYTES = 64 * 1024;
/** Extra time beyond connectTimeoutMs before an attempt that never settles is abandoned. */
const ATTEMPT_GRACE_MS = 1000;

/** What the connection tells the link. */
export type ConnectionEvents = {
  /** Connected to wms.urls[index]. */
  up: [client: MqttClient, url: string, index: number];
  /** The connection is gone: lost (with why) or dropped on purpose to reconnect (undefined). */
  down: [err: BrokerConnectError | undefined];
  /** One attempt failed; the next comes after delayMs. */
  'attempt-failed': [err: Error, url: string, delayMs: number];
};

type Current = { client: MqttClient; url: string; index: number };

export class Connection extends EventEmitter<ConnectionEvents> {
  private wms: Wms;
  private backoff: Backoff;
  private current: Current | undefined;
  private cancelAttempt: (() => void) | undefined;
  private cancelProbe: (() => void) | undefined;
  /** Bumped by update()/stop(): results of attempts started before are ignored. */
  private epoch = 0;
  private timer: NodeJS.Timeout | undefined;
  private primaryTimer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(private readonly opts: ConnectionOptions) {
    super();
    this.wms = opts.wms;
    this.backoff = new Backoff(opts.wms.reconnect.minMs, opts.wms.reconnect.maxMs);
  }

  get client(): MqttClient | undefined {
    return this.current?.client;
  }
  get url(): string | undefined {
    return this.current?.url;
  }

  start(): void {
    this.stopped = false;
    this.connectTo(0);
  }

  /** New settings. With reconnect: drop the current connection (if any) and start again from the first URL. */
  update(wms: Wms, reconnect: boolean): void {
    this.wms = wms;
    this.backoff.minMs = wms.reconnect.minMs;
    this.backoff.maxMs = wms.reconnect.maxMs;
    if (this.stopped || !reconnect) return;
    this.backoff.reset();
    this.clearTimers();
    this.epoch++;
    this.cancelAttempt?.();
    this.cancelProbe?.();
    const cur = this.current;
    this.current = undefined;
    if (cur) {
      cur.client.end(false);
      this.emit('down', undefined);
    }
    this.connectTo(0);
  }

  /** Close for good. With graceful, a DISCONNECT is sent (so the broker does not publish the will). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    this.epoch++;
    this.cancelAttempt?.();
    this.cancelProbe?.();
    const cur = this.current;
    this.current = undefined;
    if (cur) {
      await new Promise<void>((resolve) => cur.client.end(false, {}, () => resolve()));
    }
  }

  private clearTimers(): void {
    clearTimeout(this.timer);
    clearTimeout(this.primaryTimer);
    this.timer = this.primaryTimer = undefined;
  }

  private abandon(c: MqttClient | undefined): void {
    if (!c) return;
    // Only our own listeners may go: mqtt.js cleans its timers up in its own 'close' listener.
    c.on('error', () => {}); // late errors of a dropped attempt are expected
    c.end(true);
  }

  private clientOptions(url: string): IClientOptions {
    const w = this.wms;
    const o: IClientOptions = {
      clientId: this.opts.clientId,
      protocolVersion: w.protocolVersion,
      clean: true,
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      // mqtt.js would turn on mqtt-packet's process-wide number cache: 65,536 two-byte Buffers
      // (6.2 MB of heap) built on the first publish, at any tag count. Off, each PUBLISH allocates
      // its topic-length and message-id bytes (publish-batch.ts's generate() follows the same switch).
      writeCache: false,
      keepalive: w.keepaliveSeconds,
      // Documented mqtt.js options that take per-packet work off the replay (docs/PERFORMANCE.md,
      // "hot path, third pass"): the keep-alive timer is not re-armed on every PUBACK (a PINGREQ then
      // goes out once per keep-alive period even while data flows: a few bytes), and mqtt.js's debug
      // logging, which costs a call and an enabled-check per packet, is off unless DEBUG asks for it.
      reschedulePings: false,
      ...(!/mqttjs/.test(process.env.DEBUG ?? '') && { log: () => {} }),
      connectTimeout: w.connectTimeoutMs,
      will: {
        qos: 1,
        retain: true,
        ...(typeof this.opts.will === 'function' ? this.opts.will() : this.opts.will),
      },
    };
    if (w.protocolVersion === 5)
      o.properties = {
        maximumPacketSize: Math.min(268_435_455, w.maxPayloadBytes + PACKET_OVERHEAD_BYTES),
      };
    if (w.username !== undefined) o.username = w.username;
    if (w.password !== undefined) o.password = w.password;
    const proto = new URL(url).protocol;
    if (proto === 'mqtts:' || proto === 'wss:' || proto === 'ssl:') {
      const material = loadTlsMaterial(w.tls, this.opts.keyPassphrase, this.opts.pair?.());
      Object.assign(o, material, { minVersion: 'TLSv1.3', rejectUnauthorized: true });
    }
    return o;
  }

  /** One attempt: resolves with a CONNACKed client or rejects with a typed error. */
  private dial(
    url: string,
    track: (cancel: (() => void) | undefined) => void,
  ): Promise<MqttClient> {
    return new Promise((resolve, reject) => {
      let client: MqttClient;
      try {
        client = mqtt.connect(url, this.clientOptions(url));
      } catch (e) {
        track(undefined);
        reject(classifyConnectError(e, url));
        return;
      }
      let lastError: unknown;
      const guard = setTimeout(
        () =>
          fail(
            new BrokerConnectError(
              'timeout',
              url,
              undefined,
              `no CONNACK within ${this.wms.connectTimeoutMs} ms`,
            ),
          ),
        this.wms.connectTimeoutMs + ATTEMPT_GRACE_MS,
      );
      let settled = false;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        this.abandon(client);
        reject(classifyConnectError(e, url));
      };
      const onError = (e: Error) => {
        lastError = e;
        // TLS and CONNACK errors are final for this attempt; mqtt.js would otherwise wait for 'close'.
        fail(e);
      };
      const onClose = () =>
        fail(
          lastError ??
            new BrokerConnectError('closed', url, undefined, 'connection closed before CONNACK'),
        );
      client.on('error', onError);
      client.on('close', onClose);
      client.once('connect', () => {
        if (settled) return;
        settled = true;
        clearTimeout(guard);
        // Without TCP_NODELAY every small publish (acks, results, data) waits ~40 ms for Nagle.
        (client.stream as { setNoDelay?: (on: boolean) => void } | undefined)?.setNoDelay?.(true);
        client.off('error', onError);
        client.off('close', onClose);
        resolve(client);
      });
      track(() => fail(new BrokerConnectError('closed', url, undefined, 'attempt cancelled')));
    });
  }

  private connectTo(index: number): void {
    if (this.stopped) return;
    const urls = this.wms.urls;
    if (urls.length === 0) {
      this.opts.logger.warn('wms.urls is empty: the WMS link stays down');
      return;
    }
    const i = index % urls.length;
    const url = urls[i]!;
    const epoch = this.epoch;
    this.dial(url, (cancel) => (this.cancelAttempt = cancel)).then(
      (client) => {
        this.cancelAttempt = undefined;
        if (this.stopped || epoch !== this.epoch) return this.abandon(client);
        this.backoff.reset();
        this.adopt(client, url, i);
      },
      (err: Error) => {
        if (epoch !== this.epoch) return;
        this.cancelAttempt = undefined;
        if (this.stopped) return;
        const delayMs = this.backoff.next();
        this.emit('attempt-failed', err, url, delayMs);
        this.timer = setTimeout(() => this.connectTo(i + 1), delayMs);
      },
    );
  }

  private adopt(client: MqttClient, url: string, index: number): void {
    this.current = { client, url, index };
    client.on('error', (e) =>
      this.opts.logger.warn({ url, err: e.message }, 'WMS connection error'),
    );
    client.once('close', () => {
      if (this.current?.client !== client) return;
      this.current = undefined;
      clearTimeout(this.primaryTimer);
      this.abandon(client);
      this.emit('down', new BrokerConnectError('closed', url, undefined, 'connection lost'));
      // Start over from the first URL, after the backoff.
      this.timer = setTimeout(() => this.connectTo(0), this.backoff.next());
    });
    this.emit('up', client, url, index);
    if (index > 0) this.schedulePrimaryRetry();
  }

  /** Back to the primary: the old connection's in-flight messages are acknowledged there first. */
  private async moveTo(
    old: Current,
    client: MqttClient,
    primary: string,
    epoch: number,
  ): Promise<void> {
    client.on('error', () => {}); // until adopt() listens: an error while waiting must not throw
    try {
      await this.opts.beforeMove?.(old.client);
    } catch {
      // waiting is an optimisation: whatever is still in flight is sent again on the primary
    }
    if (this.stopped || epoch !== this.epoch || !client.connected) {
      this.abandon(client);
      if (!this.stopped && epoch === this.epoch && this.current === old)
        this.schedulePrimaryRetry();
      return;
    }
    if (this.current === old)
      old.client.end(false); // graceful: no last will on the fallback
    else if (this.current || this.cancelAttempt)
      return this.abandon(client); // already reconnecting
    else clearTimeout(this.timer); // the fallback died meanwhile: the primary is up, take it now
    this.opts.logger.info({ from: old.url, to: primary }, 'WMS primary is back: moving to it');
    this.adopt(client, primary, 0);
  }

  private schedulePrimaryRetry(): void {
    clearTimeout(this.primaryTimer);
    this.primaryTimer = setTimeout(() => {
      const primary = this.wms.urls[0];
      if (!primary || this.stopped || !this.current || this.current.index === 0) return;
      const epoch = this.epoch;
      this.dial(primary, (cancel) => (this.cancelProbe = cancel)).then(
        (client) => {
          this.cancelProbe = undefined;
          const old = this.current;
          if (this.stopped || !old || epoch !== this.epoch) return this.abandon(client);
          void this.moveTo(old, client, primary, epoch);
        },
        (err: Error) => {
          if (epoch !== this.epoch) return;
          this.cancelProbe = undefined;
          this.opts.logger.debug(
            { url: primary, err: err.message },
            'WMS primary still unreachable',
          );
          this.schedulePrimaryRetry();
        },
      );
    }, this.wms.reconnect.primaryRetrySeconds * 1000);
  }
}

/** The settings whose change needs a new connection (TLS material by content, so a rotated file counts). */
export function connectionKey(w: Wms, pair?: ClientPair): string {
  let material = '';
  try {
    const m = loadTlsMaterial(w.tls, undefined, pair);
    material = [m.ca, m.cert, m.key, ...(m.crl ?? [])]
      .map((b) => b?.toString('base64') ?? '')
      .join('|');
  } catch (e) {
    material = (e as Error).message;
  }
  const {
    urls,
    protocolVersion,
    username,
    password,
    keepaliveSeconds,
    connectTimeoutMs,
    maxPayloadBytes,
  } = w;
  return JSON.stringify({
    urls,
    protocolVersion,
    username,
    password,
    keepaliveSeconds,
    connectTimeoutMs,
    maxPayloadBytes,
    material,
    sn: w.tls.servername,
  });
}
