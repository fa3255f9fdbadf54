// Health as balena device tags (gw.health, gw.version, gw.plcs, gw.wms, gw.outbox, gw.ota), so a
// fleet operator sees every gateway's state in the dashboard. Only changed tags are sent, at most
// once per minIntervalMs, waiting out 429 Retry-After; while the peer is away the latest values are
// kept and sent when it is back. Transport: the supervisor's PATCH /v2/device/tags (>= 17.8), else
// the cloud API /v7/device_tag with the device's own API key.
import semver from 'semver';
import type { Logger } from '../../platform/logger.js';
import { CloudApiClient } from './cloud-api-client.js';
import {
  isCloudApiConflictError,
  isCloudApiNotFoundError,
  isCloudApiRateLimitError,
  isSupervisorNotFoundError,
  isSupervisorRateLimitError,
  isTransientBalenaError,
} from './errors.js';
import type { HttpSettings } from './balena-http.js';
import { SupervisorClient } from './supervisor-client.js';

type Env = Record<string, string | undefined>;

/** First supervisor with PATCH /v2/device/tags (see docs/fleet.md for this assumption). */
export const SUPERVISOR_TAGS_MIN_VERSION = '17.8.0';

export const TAG_DEFAULTS = {
  /** At most one request per this interval. */
  minIntervalMs: 10_000,
  /** First retry after a failure; doubled per consecutive failure. */
  backoffBaseMs: 1_000,
  /** Longest wait between two attempts while the peer is away. */
  backoffCapMs: 60_000,
  /** Longer values are cut: a tag is a dashboard label, not a log. */
  maxValueLength: 255,
} as const;

const KEY_RE = /^[A-Za-z0-9_.:-]{1,100}$/;

export interface DeviceTagReporterOptions {
  env: Env;
  logger: Logger;
  minIntervalMs?: number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
  maxValueLength?: number;
  http?: HttpSettings;
}

export type TagTransportName = 'supervisor' | 'cloud' | 'none' | 'unknown';

export interface DeviceTagStats {
  transport: TagTransportName;
  /** Tags whose latest value the balena side does not have yet. */
  pending: number;
  requests: number;
  tagsSent: number;
  failures: number;
  rateLimited: number;
  lastSentAt: number | null;
  lastError: string | null;
}

interface TagTransport {
  name: 'supervisor' | 'cloud';
  send(tags: Record<string, string>): Promise<void>;
}

export class DeviceTagReporter {
  private readonly cfg: Required<Omit<DeviceTagReporterOptions, 'env' | 'logger' | 'http'>>;
  private readonly log: Logger;
  private readonly supervisor: SupervisorClient | null;
  private readonly cloud: { client: CloudApiClient; uuid: string } | null;
  private readonly desired = new Map<string, string>();
  private readonly confirmed = new Map<string, string>();
  private transport: TagTransport | null = null;
  private transportName: TagTransportName = 'unknown';
  private started = false;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private lastAttemptAt = -Infinity;
  private notBefore = 0;
  private consecutiveFailures = 0;
  private counters = { requests: 0, tagsSent: 0, failures: 0, rateLimited: 0 };
  private lastSentAt: number | null = null;
  private lastError: string | null = null;

  constructor(opts: DeviceTagReporterOptions) {
    this.cfg = {
      minIntervalMs: opts.minIntervalMs ?? TAG_DEFAULTS.minIntervalMs,
      backoffBaseMs: opts.backoffBaseMs ?? TAG_DEFAULTS.backoffBaseMs,
      backoffCapMs: opts.backoffCapMs ?? TAG_DEFAULTS.backoffCapMs,
      maxValueLength: opts.maxValueLength ?? TAG_DEFAULTS.maxValueLength,
    };
    this.log = opts.logger;
    // The reporter has its own schedule, so the clients do not retry on their own.
    const http = { retries: 0, ...opts.http };
    this.supervisor = SupervisorClient.fromEnv(opts.env, http);
    const { BALENA_API_KEY: token, BALENA_DEVICE_UUID: uuid, BALENA_API_URL: apiUrl } = opts.env;
    this.cloud =
      token && uuid ? { client: new CloudApiClient({ ...http, apiUrl, token }), uuid } : null;
    if (!this.supervisor && !this.cloud) this.transportName = 'none';
  }

  /** Record the latest values; sending happens in the background. Never throws, never blocks. */
  update(tags: Record<string, string>): void {
    for (const [key, raw] of Object.entries(tags)) {
      if (!KEY_RE.test(key)) {
        this.log.warn({ tag: key }, 'device tag key rejected: 1-100 of letters, digits, _ . : -');
        continue;
      }
      this.desired.set(key, String(raw).slice(0, this.cfg.maxValueLength));
    }
    this.schedule();
  }

  start(): void {
    this.started = true;
    if (this.transportName === 'none')
      this.log.info(
        'device tags: not under balena (no supervisor or API key), tags are kept locally',
      );
    this.schedule();
  }

  /** Stop sending; waits for a request in flight (bounded by the HTTP timeout). */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  stats(): DeviceTagStats {
    return {
      transport: this.transportName,
      pending: Object.keys(this.diff()).length,
      ...this.counters,
      lastSentAt: this.lastSentAt,
      lastError: this.lastError,
    };
  }

  private diff(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.desired) if (this.confirmed.get(k) !== v) out[k] = v;
    return out;
  }

  private schedule(): void {
    if (!this.started || this.timer || this.inFlight || this.transportName === 'none') return;
    if (Object.keys(this.diff()).length === 0) return;
    const at = Math.max(this.lastAttemptAt + this.cfg.minIntervalMs, this.notBefore);
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.inFlight = this.flush().finally(() => {
          this.inFlight = null;
          this.schedule();
        });
      },
      Math.max(0, at - Date.now()),
    );
    // The reporter alone must not keep a process alive.
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    const tags = this.diff();
    const keys = Object.keys(tags);
    if (keys.length === 0) return;
    this.lastAttemptAt = Date.now();
    try {
      const t = await this.pickTransport();
      if (!t) return;
      this.lastAttemptAt = Date.now(); // the interval is between requests that carry tags
      await this.sendVia(t, tags);
      for (const k of keys) this.confirmed.set(k, tags[k]!);
      this.counters.requests++;
      this.counters.tagsSent += keys.length;
      this.consecutiveFailures = 0;
      this.lastSentAt = Date.now();
      this.lastError = null;
      this.log.debug({ tags: keys, transport: this.transportName }, 'device tags sent');
    } catch (e) {
      this.counters.failures++;
      this.lastError = e instanceof Error ? e.message : String(e);
      if (isSupervisorRateLimitError(e) || isCloudApiRateLimitError(e)) {
        this.counters.rateLimited++;
        this.notBefore = Date.now() + e.retryAfterMs;
        this.log.warn(
          { tags: keys, retryAfterMs: e.retryAfterMs },
          'device tags rate-limited (429)',
        );
        return;
      }
      this.consecutiveFailures++;
      const wait = isTransientBalenaError(e)
        ? Math.min(
            this.cfg.backoffCapMs,
            this.cfg.backoffBaseMs * 2 ** (this.consecutiveFailures - 1),
          )
        : this.cfg.backoffCapMs;
      this.notBefore = Date.now() + wait;
      this.log.warn(
        { tags: keys, err: this.lastError, retryInMs: wait, pending: keys.length },
        'device tags not sent; kept for later',
      );
    }
  }

  private async sendVia(t: TagTransport, tags: Record<string, string>): Promise<void> {
    try {
      await t.send(tags);
    } catch (e) {
      // An older supervisor lacks the endpoint: fall back to the cloud API for good.
      if (t.name !== 'supervisor' || !isSupervisorNotFoundError(e)) throw e;
      this.log.info('supervisor has no PATCH /v2/device/tags; using the cloud API');
      const cloud = this.useCloud();
      if (cloud) await cloud.send(tags);
    }
  }

  private async pickTransport(): Promise<TagTransport | null> {
    if (this.transport) return this.transport;
    if (this.supervisor) {
      let version: string | undefined;
      try {
        version = (await this.supervisor.device()).supervisor_version;
      } catch (e) {
        if (isTransientBalenaError(e)) throw e;
        // Version unknown: try the endpoint; a 404 still sends us to the cloud API.
      }
      const v = version ? semver.coerce(version) : null;
      if (v && semver.lt(v, SUPERVISOR_TAGS_MIN_VERSION)) {
        this.log.info(
          { supervisorVersion: version },
          'supervisor older than 17.8; device tags via the cloud API',
        );
        return this.useCloud();
      }
      const sup = this.supervisor;
      this.transport = { name: 'supervisor', send: (tags) => sup.patchDeviceTags(tags) };
      this.transportName = 'supervisor';
      return this.transport;
    }
    return this.useCloud();
  }

  private useCloud(): TagTransport | null {
    if (!this.cloud) {
      this.transport = null;
      this.transportName = 'none';
      this.log.warn(
        'device tags cannot be sent: supervisor lacks the endpoint and BALENA_API_KEY is not set',
      );
      return null;
    }
    const { client, uuid } = this.cloud;
    let deviceId: number | null = null;
    let known: Set<string> | null = null;
    this.transport = {
      name: 'cloud',
      send: async (tags) => {
        deviceId ??= await client.deviceIdByUuid(uuid);
        known ??= new Set(Object.keys(await client.deviceTags(uuid)));
        for (const [key, value] of Object.entries(tags)) {
          await upsertTag(client, deviceId, known, key, value);
          known.add(key);
        }
      },
    };
    this.transportName = 'cloud';
    return this.transport;
  }
}

async function upsertTag(
  client: CloudApiClient,
  deviceId: number,
  known: Set<string>,
  key: string,
  value: string,
): Promise<void> {
  if (known.has(key)) {
    try {
      return await client.patchDeviceTag(deviceId, key, value);
    } catch (e) {
      if (!isCloudApiNotFoundError(e)) throw e; // deleted from the dashboard meanwhile
    }
    return client.createDeviceTag(deviceId, key, value);
  }
  try {
    await client.createDeviceTag(deviceId, key, value);
  } catch (e) {
    if (!isCloudApiConflictError(e)) throw e; // created by someone else meanwhile
    await client.patchDeviceTag(deviceId, key, value);
  }
}
