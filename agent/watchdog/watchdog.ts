// Self-healing: each component reports progress; one that makes none for its stall timeout is
// restarted with exponential backoff; too many restarts in a window escalate to exit(1) so balena
// restarts the whole container.
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../platform/logger.js';
import type { WatchdogConfig } from '../health/config-schema.js';
import type { Metrics } from '../metrics/metrics.js';
import { IncidentLog, type Incident } from './incident-log.js';
import { backoffDelay } from '../../platform/backoff.js';

export interface WatchedComponent {
  /** e.g. plc:conveyor-1, wms, outbox, scheduler */
  name: string;
  /** Time of the last progress (a poll completed, a PUBACK arrived, a tick ran), on the watchdog's clock:
   *  performance.now() by default (monotonic, so an NTP step cannot fake a stall). */
  lastProgressMs(): number;
  restart(): Promise<void> | void;
  /** Overrides watchdog.stallSeconds for this component. */
  stallMs?: number;
}

export interface WatchdogOptions {
  config: WatchdogConfig;
  incidentsPath: string;
  logger?: Logger | undefined;
  /** Resolves once the alert is out (acknowledged by the broker, or queued while disconnected). */
  alert?:
    | ((level: 'warning' | 'critical', code: string, message: string) => void | Promise<void>)
    | undefined;
  /** Called on escalation; default process.exit. */
  exit?: ((code: number) => void) | undefined;
  /** Counts restarts in wmsgw_watchdog_restarts_total. */
  metrics?: Metrics | undefined;
  /** The clock of lastProgressMs(); default performance.now(). */
  now?: (() => number) | undefined;
}

/** On escalation, how long the alert may take to reach the broker before the process exits anyway. */
export const ESCALATION_FLUSH_MS = 2000;

interface Tracked {
  c: WatchedComponent;
  /** Open incident: set while the component is stalled and not yet recovered. */
  open?: {
    id: string;
    detectedAt: number;
    lastProgressBefore: number;
    restarts: number;
    lastRestartAt: number;
    restarting: boolean;
  };
  restartTimes: number[];
}

/** A stalled component restarted (restarts: of this incident so far), an escalation, an incident recorded. */
export type WatchdogEvents = {
  restart: [component: string, restarts: number];
  escalate: [component: string];
  incident: [incident: Incident];
};

export class Watchdog extends EventEmitter<WatchdogEvents> {
  private readonly tracked = new Map<string, Tracked>();
  private readonly log: IncidentLog;
  private timer: NodeJS.Timeout | undefined;
  private escalated = false;
  private readonly now: () => number;

  constructor(private readonly opts: WatchdogOptions) {
    super();
    this.log = new IncidentLog(opts.incidentsPath, opts.config.maxIncidents);
    this.now = opts.now ?? (() => performance.now());
  }

  register(c: WatchedComponent): () => void {
    this.tracked.set(c.name, { c, restartTimes: [] });
    return () => this.tracked.delete(c.name);
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.config.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  incidents(): Incident[] {
    return this.log.read();
  }

  /** One pass over the components (the timer calls it; tests may too). */
  async tick(): Promise<void> {
    await Promise.all([...this.tracked.values()].map((t) => this.checkOne(t)));
  }

  private stallMs(c: WatchedComponent): number {
    return c.stallMs ?? this.opts.config.stallSeconds * 1000;
  }

  private backoffMs(restarts: number): number {
    const { backoffMinMs, backoffMaxMs } = this.opts.config;
    return Math.round(backoffDelay(restarts - 1, backoffMinMs, backoffMaxMs));
  }

  private async checkOne(t: Tracked): Promise<void> {
    if (this.escalated) return;
    const now = this.now();
    let last: number;
    try {
      last = t.c.lastProgressMs();
    } catch {
      last = 0;
    }
    const inc = t.open;
    if (inc) {
      if (inc.restarting) return;
      if (last > inc.lastRestartAt || (inc.restarts === 0 && last > inc.detectedAt)) {
        t.open = undefined;
        const rec: Incident = {
          id: inc.id,
          component: t.c.name,
          event: 'recovered',
          ts: new Date().toISOString(),
          restarts: inc.restarts,
          recoveryMs: Math.round(Math.max(0, last - inc.detectedAt)),
          outageMs: Math.round(Math.max(0, last - inc.lastProgressBefore)),
        };
        this.record(rec);
        this.opts.logger?.info(
          { component: t.c.name, recoveryMs: rec.recoveryMs, restarts: inc.restarts },
          'watchdog: component recovered',
        );
        return;
      }
      // Still no progress: give the restarted component its stall time or the backoff, whichever is longer.
      const wait = Math.max(
        this.backoffMs(inc.restarts),
        Math.min(this.stallMs(t.c), this.opts.config.backoffMaxMs),
      );
      if (inc.restarts === 0 || now - inc.lastRestartAt >= wait) await this.restart(t, now);
      return;
    }
    const idle = now - last;
    if (idle < this.stallMs(t.c)) return;
    t.open = {
      id: randomUUID(),
      detectedAt: now,
      lastProgressBefore: last,
      restarts: 0,
      lastRestartAt: now,
      restarting: false,
    };
    this.record({
      id: t.open.id,
      component: t.c.name,
      event: 'stalled',
      ts: new Date().toISOString(),
      stalledForMs: Math.round(idle),
    });
    this.opts.logger?.warn(
      { component: t.c.name, stalledForMs: idle },
      'watchdog: component stalled',
    );
    await this.restart(t, now);
  }

  private async restart(t: Tracked, now: number): Promise<void> {
    const inc = t.open!;
    const { maxRestarts, windowSeconds } = this.opts.config;
    t.restartTimes = t.restartTimes.filter((x) => now - x < windowSeconds * 1000);
    if (t.restartTimes.length >= maxRestarts) return this.escalate(t);
    t.restartTimes.push(now);
    inc.restarts++;
    inc.lastRestartAt = now;
    inc.restarting = true;
    try {
      await t.c.restart();
      this.record({
        id: inc.id,
        component: t.c.name,
        event: 'restarted',
        ts: new Date().toISOString(),
        restarts: inc.restarts,
      });
      this.opts.logger?.warn(
        { component: t.c.name, restarts: inc.restarts },
        'watchdog: component restarted',
      );
      void this.opts.alert?.(
        'warning',
        'watchdog.restarted',
        `${t.c.name} stalled and was restarted (restart ${inc.restarts} of this incident)`,
      );
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      this.record({
        id: inc.id,
        component: t.c.name,
        event: 'restart-failed',
        ts: new Date().toISOString(),
        restarts: inc.restarts,
        detail,
      });
      this.opts.logger?.error({ component: t.c.name, err: e }, 'watchdog: restart failed');
    } finally {
      inc.restarting = false;
      // Progress is judged from the end of the restart, not its start.
      inc.lastRestartAt = this.now();
    }
    this.opts.metrics?.watchdogRestarts.inc({ component: t.c.name });
    this.emit('restart', t.c.name, inc.restarts);
  }

  private async escalate(t: Tracked): Promise<void> {
    this.escalated = true;
    const detail = `${t.restartTimes.length} restarts within ${this.opts.config.windowSeconds} s without recovery`;
    this.record({
      id: t.open!.id,
      component: t.c.name,
      event: 'escalated',
      ts: new Date().toISOString(),
      restarts: t.open!.restarts,
      detail,
    });
    this.opts.logger?.fatal(
      { component: t.c.name, restarts: t.restartTimes.length },
      'watchdog: escalating, exiting so the container restarts',
    );
    // The alert is sent and flushed (or given ESCALATION_FLUSH_MS) before the process exits.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.resolve(
        this.opts.alert?.(
          'critical',
          'watchdog.escalated',
          `${t.c.name}: ${detail}; restarting the agent`,
        ),
      ).catch(() => undefined),
      new Promise((r) => (timer = setTimeout(r, ESCALATION_FLUSH_MS))),
    ]);
    clearTimeout(timer);
    this.emit('escalate', t.c.name);
    (this.opts.exit ?? ((code: number) => process.exit(code)))(1);
  }

  private record(i: Incident): void {
    try {
      this.log.append(i);
    } catch (e) {
      this.opts.logger?.error({ err: e, path: this.log.path }, 'watchdog: cannot write incident');
    }
    this.emit('incident', i);
  }
}
