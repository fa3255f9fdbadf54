// One health state for the gateway (ok | degraded | failing) with the checks that made it.
// Feeds /health, the heartbeat and the balena device tags; raises alerts when a level rises.
import { EventEmitter } from 'node:events';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from '../../platform/logger.js';
import type { HealthConfig } from './config-schema.js';
import type { GatewayView } from './gateway-view.js';
import { HysteresisLevel, LEVEL_RANK, type Level } from './hysteresis.js';
import { sampleResources, type ResourceSample } from './resources.js';

export type HealthState = 'ok' | 'degraded' | 'failing';

export interface HealthCheck {
  name: string;
  level: Level;
  value?: number | string | undefined;
  message: string;
}

export interface HealthReport {
  state: HealthState;
  ts: string;
  checks: HealthCheck[];
  resources?: ResourceSample & { eventLoopLagMs: number };
}

export type AlertHook = (level: 'warning' | 'critical', code: string, message: string) => void;

export interface HealthMonitorOptions {
  dataDir: string;
  config: HealthConfig;
  view?: GatewayView | undefined;
  alert?: AlertHook | undefined;
  logger?: Logger | undefined;
  /** Capacity of the outbox in bytes (wms.outbox.maxBytes), for the fill check. */
  outboxMaxBytes?: number | undefined;
  /** Replaces the machine sample (tests, or a host without /proc). */
  sample?: (() => Promise<ResourceSample>) | undefined;
}

const RESOURCE_CHECKS = [
  ['cpu', 'cpuPct', '%'],
  ['memory', 'memPct', '%'],
  ['disk', 'diskPct', '%'],
  ['temperature', 'temperatureC', '°C'],
  ['eventLoopLagMs', 'eventLoopLagMs', ' ms'],
] as const;

export function stateOf(checks: HealthCheck[]): HealthState {
  const worst = Math.max(0, ...checks.map((c) => LEVEL_RANK[c.level]));
  return worst >= 2 ? 'failing' : worst === 1 ? 'degraded' : 'ok';
}

/** 'state' when the state changes (ok, degraded, failing); 'report' after every check. */
export type HealthMonitorEvents = {
  state: [report: HealthReport];
  report: [report: HealthReport];
};

export class HealthMonitor extends EventEmitter<HealthMonitorEvents> {
  private readonly levels = new Map<string, HysteresisLevel>();
  private readonly eld: IntervalHistogram;
  private timer: NodeJS.Timeout | undefined;
  private last: HealthReport = { state: 'ok', ts: new Date().toISOString(), checks: [] };
  private running: Promise<HealthReport> | undefined;

  constructor(private readonly opts: HealthMonitorOptions) {
    super();
    this.eld = monitorEventLoopDelay({ resolution: 20 });
  }

  start(): void {
    this.eld.enable();
    const run = () =>
      void this.check().catch((e: unknown) =>
        this.opts.logger?.error({ err: e }, 'health: check failed'),
      );
    run();
    this.timer = setInterval(run, this.opts.config.intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.eld.disable();
  }

  current(): HealthReport {
    return this.last;
  }

  /** Sample resources and re-evaluate; concurrent callers share one sample. */
  check(): Promise<HealthReport> {
    this.running ??= this.sampleAndEvaluate().finally(() => (this.running = undefined));
    return this.running;
  }

  private async sampleAndEvaluate(): Promise<HealthReport> {
    let sample: ResourceSample;
    try {
      sample = await (this.opts.sample ?? (() => sampleResources(this.opts.dataDir)))();
    } catch (e) {
      this.opts.logger?.warn({ err: e }, 'health: resource sample failed');
      sample = { cpuPct: 0, memPct: 0, memTotalBytes: 0, diskPct: 0, diskFreeBytes: 0 };
    }
    const lag = this.eld.count > 0 ? this.eld.percentile(99) / 1e6 : 0;
    this.eld.reset();
    return this.evaluate({ ...sample, eventLoopLagMs: lag });
  }

  /** Evaluate one sample against the thresholds (with hysteresis) and the gateway's components. */
  evaluate(sample: ResourceSample & { eventLoopLagMs: number }): HealthReport {
    const cfg = this.opts.config;
    const checks: HealthCheck[] = [];
    for (const [name, key, unit] of RESOURCE_CHECKS) {
      const v = sample[key];
      if (typeof v !== 'number') continue;
      const level = this.level(name, cfg[name], v);
      const t = cfg[name];
      checks.push({
        name,
        level,
        value: Math.round(v * 10) / 10,
        message:
          level === 'ok'
            ? `${v.toFixed(1)}${unit}`
            : `${v.toFixed(1)}${unit} (${level} above ${level === 'critical' ? t.critical : t.warn}${unit})`,
      });
    }
    if (sample.network && !sample.network.up)
      checks.push({
        name: 'network',
        level: 'warning',
        value: sample.network.iface,
        message: `interface ${sample.network.iface} is down`,
      });
    try {
      checks.push(...this.componentChecks());
    } catch (e) {
      // A view that cannot answer is itself a finding, not a reason to stop monitoring.
      checks.push({
        name: 'gateway',
        level: 'warning',
        message: `gateway view unavailable: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
    const report: HealthReport = {
      state: stateOf(checks),
      ts: new Date().toISOString(),
      checks,
      resources: sample,
    };
    this.raiseAlerts(this.last, report);
    const changed = report.state !== this.last.state;
    this.last = report;
    if (changed) {
      this.opts.logger?.info(
        {
          state: report.state,
          checks: report.checks.filter((c) => c.level !== 'ok').map((c) => c.name),
        },
        'health: state changed',
      );
      this.emit('state', report);
    }
    this.emit('report', report);
    return report;
  }

  private level(name: string, t: { warn: number; critical: number }, v: number): Level {
    let l = this.levels.get(name);
    if (!l) this.levels.set(name, (l = new HysteresisLevel(t, this.opts.config.hysteresis)));
    return l.update(v);
  }

  private componentChecks(): HealthCheck[] {
    const view = this.opts.view;
    if (!view) return [];
    const snap = view.snapshot();
    const out: HealthCheck[] = [];
    const plcLevel: Level = this.opts.config.plcDownIsCritical ? 'critical' : 'warning';
    for (const p of snap.plcs) {
      const ok = p.state === 'connected';
      out.push({
        name: `plc:${p.id}`,
        level: ok ? 'ok' : p.state === 'degraded' ? 'warning' : plcLevel,
        value: p.state,
        message: ok ? 'connected' : `${p.state}${p.error ? `: ${p.error}` : ''}`,
      });
    }
    const silent = snap.wms.peer?.state === 'silent';
    out.push({
      name: 'wms',
      level: snap.wms.connected && !silent ? 'ok' : 'warning',
      value: !snap.wms.connected ? 'disconnected' : silent ? 'silent' : 'connected',
      message: !snap.wms.connected
        ? `not connected (${snap.wms.reconnects} reconnects); data waits in the outbox`
        : silent
          ? `broker connected but no WMS heartbeat since ${snap.wms.peer?.lastHeartbeat ?? 'start'}`
          : `connected to ${snap.wms.url ?? 'broker'}`,
    });
    const wf = snap.outbox.writeFailure;
    if (wf)
      // Readings are being lost: failing (and /health 503) for as long as it lasts.
      out.push({
        name: 'outbox-write',
        level: 'critical',
        value: wf.code,
        message: `${wf.code === 'ENOSPC' || wf.code === 'EDQUOT' ? 'disk full' : 'write failing'} since ${wf.since}: new readings dropped (${snap.outbox.dropped} in total)`,
      });
    const full = snap.outbox.full;
    if (full)
      // CONTRACT §10: the bound is costing readings: failing (503) while it lasts, like a full disk.
      out.push({
        name: 'outbox-full',
        level: 'critical',
        value: full.policy,
        message: `outbox at its bound since ${full.since}: ${full.dropped} messages dropped (${full.policy})`,
      });
    const max = snap.outbox.maxBytes ?? this.opts.outboxMaxBytes;
    if (max && max > 0) {
      const pct = (snap.outbox.bytes / max) * 100;
      const level = this.level('outboxFill', this.opts.config.outboxFill, pct);
      out.push({
        name: 'outbox',
        level,
        value: Math.round(pct * 10) / 10,
        message: `${snap.outbox.messages} messages, ${pct.toFixed(1)}% full`,
      });
    }
    return out;
  }

  private raiseAlerts(prev: HealthReport, next: HealthReport): void {
    const before = new Map(prev.checks.map((c) => [c.name, c.level]));
    for (const c of next.checks) {
      const was = before.get(c.name) ?? 'ok';
      if (LEVEL_RANK[c.level] > LEVEL_RANK[was] && c.level !== 'ok') {
        this.opts.alert?.(c.level, `health.${c.name.replace(':', '.')}`, `${c.name}: ${c.message}`);
        this.opts.logger?.warn(
          { check: c.name, level: c.level, value: c.value },
          'health: level raised',
        );
      } else if (c.level === 'ok' && was !== 'ok') {
        this.opts.logger?.info({ check: c.name, value: c.value }, 'health: level cleared');
      }
    }
  }
}
