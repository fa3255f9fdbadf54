// The maintenance jobs on their cron schedules: one job at a time (no overlap), each after a random
// delay so a fleet does not fire at once; every run yields a report kept on disk and handed to publishReport.
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

  constructor(private readonly o: MaintenanceOptions) {
    super();
    this.history = new ReportHistory(
      join(o.dataDir, 'maintenance', 'reports.jsonl'),
      o.config.reportHistory,
    );
    this.pace = {
      chunkBytes: o.config.ioChunkBytes,
      pauseMs: o.config.pauseMs,
      busyShare: o.config.busyShare,
    };
    this.now = o.now ?? (() => new Date());
  }

  start(): void {
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
    for (const t of this.delays) clearTimeout(t);
    this.delays.clear();
    for (const t of this.tasks) await t.destroy();
    this.tasks = [];
    await this.queue.catch(() => undefined);
  }

  private scheduled(job: JobName): Promise<unknown> {
    const delayMs = Math.floor(
      (this.o.random ?? Math.random)() * this.o.config.randomDelaySeconds * 1000,
    );
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.delays.delete(t);
        this.run(job).then(
          () => resolve(),
          () => resolve(),
        );
      }, delayMs);
      t.unref();
      this.delays.add(t);
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
