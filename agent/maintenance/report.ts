// A maintenance run's report: steps with durations, bytes and problems; kept on disk (bounded history).
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type JobName =
  'fullBackup' | 'diffBackup' | 'logRotation' | 'outboxCompaction' | 'integrityCheck';
export const JOB_NAMES: JobName[] = [
  'fullBackup',
  'diffBackup',
  'logRotation',
  'outboxCompaction',
  'integrityCheck',
];

/** A maintenance job name that is not one of JOB_NAMES (an operator's typo, not a server fault). */
export class UnknownJobError extends Error {
  constructor(readonly job: string) {
    super(`unknown job "${job}": one of ${JOB_NAMES.join(', ')}`);
    this.name = 'UnknownJobError';
  }
}
export function isUnknownJobError(e: unknown): e is UnknownJobError {
  return e instanceof UnknownJobError;
}

export interface ReportStep {
  name: string;
  durationMs: number;
  bytes: number;
  ok: boolean;
  problem?: string | undefined;
  detail?: unknown;
}

export interface MaintenanceReport {
  job: JobName;
  startedAt: string;
  durationMs: number;
  /** Process CPU time the run used, as a share of one core over its duration (KPI: < 30 %). */
  cpuPct: number;
  steps: ReportStep[];
  problems: string[];
}

/** Runs steps one after the other, timing each; a failing step is recorded and the next ones still run. */
export class ReportBuilder {
  private readonly steps: ReportStep[] = [];
  private readonly t0 = performance.now();
  private readonly cpu0 = process.cpuUsage();

  constructor(
    readonly job: JobName,
    private readonly startedAt: Date,
  ) {}

  async step(
    name: string,
    fn: () => Promise<{ bytes?: number; problem?: string; detail?: unknown } | void>,
  ): Promise<void> {
    const t = performance.now();
    try {
      const r = (await fn()) ?? {};
      this.steps.push({
        name,
        durationMs: Math.round(performance.now() - t),
        bytes: r.bytes ?? 0,
        ok: !r.problem,
        problem: r.problem,
        detail: r.detail,
      });
    } catch (e) {
      this.steps.push({
        name,
        durationMs: Math.round(performance.now() - t),
        bytes: 0,
        ok: false,
        problem: e instanceof Error ? e.message : String(e),
      });
    }
  }

  finish(): MaintenanceReport {
    const durationMs = Math.round(performance.now() - this.t0);
    const cpu = process.cpuUsage(this.cpu0);
    return {
      job: this.job,
      startedAt: this.startedAt.toISOString(),
      durationMs,
      cpuPct:
        durationMs > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / durationMs) * 1000) / 10 : 0,
      steps: this.steps,
      problems: this.steps.filter((s) => !s.ok).map((s) => `${s.name}: ${s.problem}`),
    };
  }
}

export class ReportHistory {
  private count = -1;

  constructor(
    readonly path: string,
    private readonly max: number,
  ) {}

  async add(r: MaintenanceReport): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    if (this.count < 0) this.count = (await this.read()).length;
    await appendFile(this.path, JSON.stringify(r) + '\n');
    if (++this.count > this.max) {
      const keep = (await this.read()).slice(-this.max);
      await writeFile(`${this.path}.tmp`, keep.map((x) => JSON.stringify(x) + '\n').join(''));
      await rename(`${this.path}.tmp`, this.path);
      this.count = keep.length;
    }
  }

  /** Reports oldest first; a torn line is skipped. */
  async read(limit?: number): Promise<MaintenanceReport[]> {
    let text = '';
    try {
      text = await readFile(this.path, 'utf8');
    } catch {
      return [];
    }
    const out: MaintenanceReport[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as MaintenanceReport);
      } catch {
        // skip
      }
    }
    return limit ? out.slice(-limit) : out;
  }
}
