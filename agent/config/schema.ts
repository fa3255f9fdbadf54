// The whole gateway config (CONTRACT.md §2). Sections may grow; names never change meaning.
// Each section has defaults so an empty file is a valid config (the embedded default).
import { z } from 'zod';
import { plcsSchema } from '../../plc/config/schema.js';
import { jwkSchema, sizeSchema } from '../../platform/config-fields.js';
import { otaSchema } from '../../ota/config/schema.js';
import { maintenanceSchema } from '../maintenance/config-schema.js';
import { healthSchema } from '../health/config-schema.js';

const brokerUrl = z.string().refine((u) => {
  try {
    return ['mqtt:', 'mqtts:', 'ws:', 'wss:', 'tcp:', 'ssl:'].includes(new URL(u).protocol);
  } catch {
    return false;
  }
}, 'must be a broker URL such as mqtts://host:8883');

export const gatewaySchema = z
  .strictObject({
    tenant: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of letters, digits, _ -')
      .optional()
      .describe('Tenant id (topic prefix); env WMS_TENANT; default demo'),
    id: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be 1-128 of letters, digits, _ . -')
      .optional()
      .describe('Gateway id; env GATEWAY_ID, else BALENA_DEVICE_UUID, else hostname'),
  })
  .prefault({});

export const tlsSchema = z
  .strictObject({
    ca: z.string().optional().describe('CA certificate: PEM text or a file path'),
    cert: z
      .string()
      .optional()
      .describe('Client certificate for mutual TLS: PEM text or a file path'),
    key: z.string().optional().describe('Client private key: PEM text or a file path'),
    servername: z.string().optional().describe('TLS server name to verify, if not the URL host'),
    expiryWarningDays: z
      .number()
      .int()
      .min(1)
      .max(365)
      .default(30)
      .describe('warning alert this long before the client certificate expires'),
    expiryCriticalDays: z
      .number()
      .int()
      .min(0)
      .max(365)
      .default(7)
      .describe('critical alert this long before the client certificate expires'),
  })
  .prefault({});

export const outboxSchema = z
  .strictObject({
    maxBytes: sizeSchema(1024 * 1024, 64 * 1024 ** 3)
      .default(512 * 1024 ** 2)
      .describe('Disk the outbox may use, e.g. 512MiB (default 512MiB)'),
    policy: z
      .enum(['drop-oldest', 'reject-new'])
      .default('drop-oldest')
      .describe('What to do when full'),
    segmentBytes: sizeSchema(64 * 1024, 1024 ** 3)
      .default(16 * 1024 ** 2)
      .describe('Size of one append-only segment file (default 16MiB)'),
    fsync: z
      .enum(['always', 'batch'])
      .default('batch')
      .describe('always: fsync each append; batch: fsync every fsyncIntervalMs'),
    fsyncIntervalMs: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(50)
      .describe('Power-loss window with fsync: batch'),
    inflight: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(64)
      .describe('QoS 1 messages in flight at once'),
    checkpointIntervalMs: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(200)
      .describe(
        'How often the acknowledged position is persisted (duplicates after a crash are bounded by this)',
      ),
    readAheadBytes: sizeSchema(64 * 1024, 64 * 1024 ** 2)
      .default(1024 ** 2)
      .describe('Outbox bytes read ahead of publishing (keeps RAM flat)'),
  })
  .prefault({});

export const wmsSchema = z
  .strictObject({
    urls: z
      .array(brokerUrl)
      .default([])
      .describe(
        'Broker URLs tried in order for failover; env WMS_MQTT_URL (comma-separated); empty = embedded broker',
      ),
    tls: tlsSchema,
    qos: z
      .union([z.literal(0), z.literal(1)])
      .default(1)
      .describe('QoS of data messages'),
    protocolVersion: z
      .union([z.literal(5), z.literal(4)])
      .default(5)
      .describe('MQTT 5 (default) or 3.1.1 (4)'),
    compression: z
      .enum(['none', 'gzip'])
      .default('none')
      .describe('gzip: payload compressed, MQTT 5 content type application/gzip'),
    heartbeatSeconds: z.number().int().min(1).max(86_400).default(30).describe('Heartbeat period'),
    keepaliveSeconds: z.number().int().min(5).max(3600).default(30).describe('MQTT keepalive'),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(10_000)
      .describe('Give up one connection attempt after this'),
    reconnect: z
      .strictObject({
        minMs: z.number().int().min(10).default(500).describe('First reconnect delay'),
        maxMs: z
          .number()
          .int()
          .min(100)
          .default(30_000)
          .describe('Cap of the exponential backoff (with jitter)'),
        primaryRetrySeconds: z
          .number()
          .int()
          .min(1)
          .default(60)
          .describe('While on a fallback URL, how often to try the first one again'),
      })
      .prefault({}),
    maxPayloadBytes: sizeSchema(1024, 256 * 1024 ** 2)
      .default(1024 ** 2)
      .describe('Largest MQTT payload accepted from the WMS (default 1MiB)'),
    outbox: outboxSchema,
    eventQueueLength: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(1000)
      .describe('Events (alerts, acks, results) held in memory while disconnected'),
    username: z.string().optional().describe('Broker user name'),
    password: z.string().optional().describe('Broker password (never logged)'),
  })
  .prefault({});

export const commandsSchema = z
  .strictObject({
    keys: z
      .array(jwkSchema)
      .default([])
      .describe('Public keys (JWK, ES256 or EdDSA) allowed to sign commands and remote config'),
    requireSignature: z
      .boolean()
      .default(true)
      .describe('false is for the demo only: unsigned JSON commands are accepted'),
    clockToleranceSeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(30)
      .describe('Clock skew allowed on iat/exp'),
    maxPayloadBytes: z
      .number()
      .int()
      .min(256)
      .max(1024 * 1024)
      .default(64 * 1024),
    readBack: z
      .boolean()
      .default(true)
      .describe('Read written tags back and return them in cmd/result'),
    queueLength: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(100)
      .describe('Commands waiting per PLC before new ones are rejected'),
    maxLifetimeSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(3600)
      .describe('Longest exp - iat a command may carry (bounds the replay cache)'),
    replayCacheEntries: z
      .number()
      .int()
      .min(100)
      .max(10_000_000)
      .default(100_000)
      .describe(
        'Command ids remembered until their exp; when full of live ids new commands are refused',
      ),
    configHistory: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .describe('Previous remote configs kept under $DATA_DIR/config/history'),
    lockLingerMs: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(1000)
      .describe('Keep the balena update lock this long after a write, for the next one of a burst'),
    configConfirmSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(30)
      .describe(
        'After a remote config changes wms, how long the link has to come up before the config is rolled back',
      ),
    audit: z
      .strictObject({
        maxBytes: sizeSchema(64 * 1024, 1024 ** 3)
          .default(10 * 1024 ** 2)
          .describe('Size of audit.jsonl before it is rotated (default 10MiB)'),
        files: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(5)
          .describe('Audit files kept, current included'),
      })
      .prefault({}),
  })
  .prefault({});

export const httpSchema = z
  .strictObject({
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe('Dashboard, /health, /metrics; env HTTP_PORT; default 8080 (80 under balena)'),
    host: z.string().default('0.0.0.0').describe('Address to listen on'),
  })
  .prefault({});

export const configSchema = z.strictObject({
  gateway: gatewaySchema,
  wms: wmsSchema,
  commands: commandsSchema,
  plcs: plcsSchema,
  ota: otaSchema,
  http: httpSchema,
  maintenance: maintenanceSchema,
  health: healthSchema,
  // Sections owned by later parts (maintenance, health, balena) are added here with their own schemas.
});

export type GatewayConfig = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
