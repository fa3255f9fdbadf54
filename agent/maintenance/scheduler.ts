// The maintenance jobs on their cron schedules: one job at a time (no overlap), each after a random
// delay so a fleet does not fire at once; every run yields a report kept on disk and handed to publishReport.
// With maintenance windows configured, a scheduled job due outside a window waits for the next window's
// start (manual runs still run at once); a job still running when its window ends is not cut short
// (a half-made backup is worse than a late one; jobs are paced by busyShare) and is logged as overrun.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { MaintenanceConfig } from './config-schema.js';
import {
  createBackup,
  pruneBackups,
  verifyBackup,
  listBackups,
  backupsDirOf,
  type BackupKind,
} from './backup-store.js';
import { rotateLogs } from './log-rotation.js';
import { checkConfigIntegrity } from './integrity-check.js';
import {
  ReportBuilder,
  ReportHistory,
  JOB_NAMES,
  type JobName,
  type MaintenanceReport,
} from './report.js';
import type { Pace } from './pace.js';
import { CronMatcher, WindowClock, type Window } from './window-clock.js';
import { WindowAnnouncer, type WindowPayload } from './window-announcer.js';

export interface MaintenanceHooks {
  /** The lead sends it on maintenance/report. */
  publishReport?: ((r: MaintenanceReport) => void | Promise<void>) | undefined;
  compactOutbox?: (() => Promise<{ bytesFreed: number }>) | undefined;
  /** Integrity of the OTA slots against their recorded hashes. */
  checkSlots?:
    (() => Promise<Array<{ slot: string; ok: boolean; problem?: string | undefined }>>) | undefined;
  alert?: ((level: 'warning' | 'critical', code: string, message: string) => void) | undefined;
  /** Reopen the agent's log file after rotation renamed it. */
  reopenLogs?: (() => void) | undefined;
  /** The lead sends it retained on maintenance/window. */
  publishWindow?: ((p: WindowPayload) => void) | undefined;
}

export interface MaintenanceOptions {
  dataDir: string;
  configPath: string;
  config: MaintenanceConfig;
  logger?: Logger | undefined;
  metrics?: Metrics | undefined;
  hooks?: MaintenanceHooks;
  now?: () => Date;
  random?: () => number;
}

/** Every finished run's report, before it is published. */
export type MaintenanceEvents = { report: [report: MaintenanceReport] };

export class Maintenance extends EventEmitter<MaintenanceEvents> {
  private tasks: ScheduledTask[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly pending = new Map<JobName, Promise<MaintenanceReport>>();
  private readonly delays = new Set<NodeJS.Timeout>();
  readonly history: ReportHistory;
  private readonly pace: Pace;
  private readonly now: () => Date;
  /** Maintenance windows, when configured; their announcements. */
  readonly windows: WindowClock | undefined;
  private readonly announcer: WindowAnnouncer | undefined;
  /** Scheduled jobs that came due outside a window, run at the next window's start. */
  private readonly waiting = new Set<JobName>();
  private readonly jobMatchers = new Map<JobName, CronMatcher>();

  constructor(private readonly o: MaintenanceOptions) {
    super();
    this.now = o.now ?? (() => new Date());
    if (o.config.windows.length) {
      this.windows = new WindowClock(o.config.windows);
      for (const job of JOB_NAMES)
        this.jobMatchers.set(job, new CronMatcher(o.config.schedules[job]));
      this.announcer = new WindowAnnouncer({
        clock: this.windows,
        announceMinutes: o.config.announceMinutes,
        statePath: join(o.dataDir, 'maintenance', 'window.json'),
        publish: (p) => o.hooks?.publishWindow?.(p),
        jobs: (w) => this.jobsIn(w),
        logger: o.logger,
        now: this.now,
        onStarted: () => this.releaseWaiting(),
      });
    }
    this.history = new ReportHistory(
      join(o.dataDir, 'maintenance', 'reports.jsonl'),
      o.config.reportHistory,
    );
    this.pace = {
      chunkBytes: o.config.ioChunkBytes,
      pauseMs: o.config.pauseMs,
      busyShare: o.config.busyShare,
    };
  }

  /** The window now open, else the next one, as the dashboard shows it (null: none configured). */
  window(): WindowPayload | null {
    return this.announcer?.view() ?? null;
  }

  start(): void {
    // Windows are announced even with scheduled jobs off: OTA switches wait for them too.
    this.announcer?.start();
    if (!this.o.config.enabled) return;
    for (const job of JOB_NAMES) {
      const task = cron.schedule(this.o.config.schedules[job], () => this.scheduled(job), {
        name: `maintenance:${job}`,
        noOverlap: true,
      });
      this.tasks.push(task);
    }
  }

  async stop(): Promise<void> {
    this.announcer?.stop();
    for (const t of this.delays) clearTimeout(t);
    this.delays.clear();
    for (const t of this.tasks) await t.destroy();
    this.tasks = [];
    await this.queue.catch(() => undefined);
  }

  private scheduled(job: JobName): Promise<unknown> {
    let maxDelayMs = this.o.config.randomDelaySeconds * 1000;
    if (this.windows) {
      const w = this.windows.current(this.now());
      if (!w) return Promise.resolve(this.wait(job));
      // The fleet is still spread, but every run starts in the first half of the window.
      maxDelayMs = Math.min(maxDelayMs, (w.end.getTime() - this.now().getTime()) / 2);
    }
    const delayMs = Math.floor((this.o.random ?? Math.random)() * Math.max(0, maxDelayMs));
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.delays.delete(t);
        this.runScheduled(job).then(
          () => resolve(),
          (err: unknown) => {
            // Steps record their own failures in the report; this is a failure outside them
            // (writing the report, say), which would otherwise vanish with the timer.
            this.o.logger?.error({ job, err }, 'maintenance: scheduled run failed');
            resolve();
          },
        );
      }, delayMs);
      t.unref();
      this.delays.add(t);
    });
  }

  private wait(job: JobName): void {
    if (this.waiting.has(job)) return;
    this.waiting.add(job);
    const next = this.windows?.next(this.now());
    this.o.logger?.info(
      { job, window: next?.start.toISOString() },
      'maintenance: job due outside a window waits for the next one',
    );
  }

  private releaseWaiting(): void {
    const jobs = [...this.waiting];
    this.waiting.clear();
    for (const job of jobs) void this.scheduled(job);
  }

  /** A scheduled run: queued behind others; if the window closed meanwhile it waits for the next. */
  private runScheduled(job: JobName): Promise<unknown> {
    const running = this.pending.get(job);
    if (running) return running;
    const p = this.queue.then(async () => {
      if (this.windows && !this.windows.inside(this.now())) return this.wait(job);
      await this.execute(job);
      if (this.windows && !this.windows.inside(this.now()))
        this.o.logger?.warn({ job }, 'maintenance: scheduled run overran its window');
    });
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** The jobs that will run in window w: those waiting, and those due before it ends. */
  private jobsIn(w: Window): string[] {
    if (!this.o.config.enabled) return [];
    const now = this.now();
    return JOB_NAMES.filter((job) => {
      if (this.waiting.has(job)) return true;
      const due = this.jobMatchers.get(job)?.nextAfter(now);
      return due !== null && due !== undefined && due < w.end;
    });
  }

  /** Run a job now. Jobs run one at a time; asking for one already waiting or running returns that run. */
  run(job: JobName): Promise<MaintenanceReport> {
    const existing = this.pending.get(job);
    if (existing) return existing;
    const p = this.queue.then(() => this.execute(job)).finally(() => this.pending.delete(job));
    this.pending.set(job, p);
    this.queue = p.catch(() => undefined);
    return p;
  }

  async reports(limit?: number): Promise<MaintenanceReport[]> {
    return this.history.read(limit);
  }

  private async execute(job: JobName): Promise<MaintenanceReport> {
    const { dataDir, config, logger } = this.o;
    const b = new ReportBuilder(job, this.now());
    logger?.info({ job }, 'maintenance: run started');
    const backupsDir = backupsDirOf(dataDir);
    if (job === 'fullBackup' || job === 'diffBackup') {
      const kind: BackupKind = job === 'fullBackup' ? 'full' : 'diff';
      let id: string | undefined;
      await b.step('backup', async () => {
        const m = await createBackup(kind, {
          dataDir,
          ...config.backups,
          pace: this.pace,
          now: this.now(),
        });
        id = m.id;
        this.o.metrics?.lastBackupTimestamp.set({ kind: m.kind }, Date.parse(m.createdAt) / 1000);
        return {
          bytes: m.files.reduce((n, f) => n + f.bytes, 0),
          detail: { id: m.id, kind: m.kind, files: m.files.length, skipped: m.skipped },
        };
      });
      await b.step('verify', async () => {
        if (!id) return { problem: 'no backup to verify' };
        const problems = await verifyBackup(backupsDir, id, this.pace);
        return problems.length ? { problem: problems.join('; ') } : { detail: { id } };
      });
      await b.step('retention', async () => {
        const r = await pruneBackups(backupsDir, config.backups.retentionDays, this.now());
        return { bytes: r.bytesFreed, detail: { deleted: r.deleted } };
      });
    } else if (job === 'logRotation') {
      await b.step('logs', async () => {
        const r = await rotateLogs({
          logsDir: join(dataDir, 'logs'),
          compressAfterDays: config.logs.compressAfterDays,
          deleteAfterDays: config.logs.deleteAfterDays,
          reopen: this.o.hooks?.reopenLogs,
          now: this.now(),
          pace: this.pace,
        });
        return {
          bytes: r.bytesFreed,
          detail: { rotated: r.rotated, compressed: r.compressed, deleted: r.deleted },
        };
      });
    } else if (job === 'outboxCompaction') {
      await b.step('compact', async () => {
        const compact = this.o.hooks?.compactOutbox;
        if (!compact) return { detail: 'no outbox attached' };
        return { bytes: (await compact()).bytesFreed };
      });
    } else {
      await b.step('config', async () => {
        const r = await checkConfigIntegrity({ dataDir, configPath: this.o.configPath });
        if (r.status === 'restored') {
          this.o.hooks?.alert?.(
            'critical',
            'maintenance.config-restored',
            `config ${r.file} was ${r.problem}; restored from backup ${r.restoredFrom}`,
          );
          return { detail: r };
        }
        if (r.status === 'changed')
          this.o.hooks?.alert?.(
            'warning',
            'maintenance.config-changed',
            `config ${r.file} ${r.problem}`,
          );
        if (r.status === 'corrupt') {
          this.o.hooks?.alert?.(
            'critical',
            'maintenance.config-corrupt',
            `config ${r.file}: ${r.problem}`,
          );
          return { problem: r.problem, detail: r };
        }
        return { detail: r };
      });
      if (this.o.hooks?.checkSlots) {
        const checkSlots = this.o.hooks.checkSlots;
        await b.step('slots', async () => {
          const bad = (await checkSlots()).filter((s) => !s.ok);
          if (bad.length) {
            const msg = bad.map((s) => `${s.slot}: ${s.problem ?? 'hash mismatch'}`).join('; ');
            this.o.hooks?.alert?.('critical', 'maintenance.slot-corrupt', msg);
            return { problem: msg };
          }
          return {};
        });
      }
      await b.step('last-backup', async () => {
        const last = (await listBackups(backupsDir)).at(-1);
        if (!last) return { detail: 'no backup yet' };
        const problems = await verifyBackup(backupsDir, last.id, this.pace);
        return problems.length
          ? { problem: `backup ${last.id}: ${problems.join('; ')}` }
          : { detail: { id: last.id } };
      });
    }
    const report = b.finish();
    await this.history
      .add(report)
      .catch((e: unknown) => logger?.error({ err: e, job }, 'maintenance: cannot keep report'));
    this.o.metrics?.maintenanceRuns.inc({
      job,
      result: report.problems.length ? 'problems' : 'ok',
    });
    this.o.metrics?.maintenanceDuration.set({ job }, report.durationMs / 1000);
    if (report.problems.length)
      logger?.warn(
        { job, problems: report.problems, durationMs: report.durationMs },
        'maintenance: run finished with problems',
      );
    else logger?.info({ job, durationMs: report.durationMs }, 'maintenance: run finished');
    this.emit('report', report);
    try {
      await this.o.hooks?.publishReport?.(report);
    } catch (e) {
      logger?.warn({ err: e, job }, 'maintenance: cannot publish report');
    }
    return report;
  }
}
