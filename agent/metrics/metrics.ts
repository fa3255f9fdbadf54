// Prometheus instruments the data path updates. Each gateway owns its Registry (no global singleton),
// so tests and several agents in one process never share counters.
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

// The OTA state machine's phases (ota/device/states.ts), lower-cased for the `phase` label.
export const OTA_PHASES = [
  'idle',
  'downloading',
  'verifying',
  'installing',
  'switching',
  'probation',
  'committed',
  'rollingback',
  'failed',
] as const;

export interface MetricsOptions {
  /** Add Node process metrics (CPU, memory, event loop lag, GC); default true. */
  processMetrics?: boolean;
  /** Labels put on every series, e.g. { tenant, gateway }. */
  defaultLabels?: Record<string, string>;
  prefix?: string;
}

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics(opts: MetricsOptions = {}) {
  const registry = new Registry();
  const p = opts.prefix ?? 'wmsgw_';
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: p });
  const registers = [registry];
  const metrics = {
    registry,
    /** Seconds one poll group took, per PLC. */
    pollDuration: new Histogram({
      name: `${p}poll_duration_seconds`,
      help: 'Duration of one poll of a PLC group',
      labelNames: ['plc'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    /** Failed polls by kind (timeout, exception, connection, decode ...). */
    pollErrors: new Counter({
      name: `${p}poll_errors_total`,
      help: 'Failed polls by PLC and kind',
      labelNames: ['plc', 'kind'] as const,
      registers,
    }),
    tagValuesRead: new Counter({
      name: `${p}tag_values_read_total`,
      help: 'Tag values decoded from PLC reads',
      labelNames: ['plc'] as const,
      registers,
    }),
    plcConnected: new Gauge({
      name: `${p}plc_connected`,
      help: '1 when the PLC link is connected',
      labelNames: ['plc'] as const,
      registers,
    }),
    messagesPublished: new Counter({
      name: `${p}messages_published_total`,
      help: 'MQTT messages acknowledged by the broker, by kind (data, status, heartbeat ...)',
      labelNames: ['kind'] as const,
      registers,
    }),
    outboxMessages: new Gauge({
      name: `${p}outbox_messages`,
      help: 'Messages waiting in the outbox',
      registers,
    }),
    outboxBytes: new Gauge({
      name: `${p}outbox_bytes`,
      help: 'Bytes of the outbox on disk',
      registers,
    }),
    outboxMaxBytes: new Gauge({
      name: `${p}outbox_max_bytes`,
      help: 'Configured outbox capacity',
      registers,
    }),
    outboxDropped: new Counter({
      name: `${p}outbox_dropped_total`,
      help: 'Messages dropped or rejected because the outbox was full (its bound or the file system)',
      registers,
    }),
    outboxWriteFailing: new Gauge({
      name: `${p}outbox_write_failing`,
      help: '1 while the outbox cannot write (a full file system): new readings are dropped',
      registers,
    }),
    outboxFull: new Gauge({
      name: `${p}outbox_full`,
      help: '1 while the outbox is at its bound and its policy drops readings (CONTRACT §10)',
      registers,
    }),
    wmsConnected: new Gauge({
      name: `${p}wms_connected`,
      help: '1 when the broker link is up',
      registers,
    }),
    reconnects: new Counter({
      name: `${p}reconnects_total`,
      help: 'Reconnections by link (wms, or a PLC id)',
      labelNames: ['link'] as const,
      registers,
    }),
    commandLatency: new Histogram({
      name: `${p}command_latency_seconds`,
      help: 'From command receipt to cmd/result, by op and status',
      labelNames: ['op', 'status'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    otaState: new Gauge({
      name: `${p}ota_phase`,
      help: '1 for the current OTA phase, 0 for the others',
      labelNames: ['phase'] as const,
      registers,
    }),
    otaLastRollback: new Gauge({
      name: `${p}ota_last_rollback_timestamp_seconds`,
      help: 'Unix time of the last OTA rollback in the persisted history (0: none)',
      registers,
    }),
    wmsPeerAlive: new Gauge({
      name: `${p}wms_peer_alive`,
      help: '1 while the WMS heartbeat arrives, 0 after 3 silent periods (only with wms.peerHeartbeatSeconds)',
      registers,
    }),
    tlsClientCertNotAfter: new Gauge({
      name: `${p}tls_client_cert_not_after_seconds`,
      help: 'Unix time the client certificate of the WMS link expires (absent without mutual TLS)',
      registers,
    }),
    healthState: new Gauge({
      name: `${p}health_state`,
      help: 'Gateway health: 0 ok, 1 degraded, 2 failing',
      registers,
    }),
    watchdogRestarts: new Counter({
      name: `${p}watchdog_restarts_total`,
      help: 'Components restarted by the watchdog',
      labelNames: ['component'] as const,
      registers,
    }),
    maintenanceRuns: new Counter({
      name: `${p}maintenance_runs_total`,
      help: 'Maintenance runs by job and result',
      labelNames: ['job', 'result'] as const,
      registers,
    }),
    maintenanceDuration: new Gauge({
      name: `${p}maintenance_last_duration_seconds`,
      help: 'Duration of the last run of each maintenance job',
      labelNames: ['job'] as const,
      registers,
    }),
    lastBackupTimestamp: new Gauge({
      name: `${p}last_backup_timestamp_seconds`,
      help: 'Unix time of the last good backup, by kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    /** Mark one OTA phase as current (unknown phases are shown too). */
    setOtaPhase(phase: string): void {
      for (const ph of new Set<string>([...OTA_PHASES, phase]))
        metrics.otaState.set({ phase: ph }, ph === phase ? 1 : 0);
    },
    /** Prometheus text exposition. */
    text(): Promise<string> {
      return registry.metrics();
    },
    contentType: registry.contentType,
  };
  return metrics;
}
