// One diagnostic check's outcome, and how a set of them becomes healthy / degraded / failing (exit 0 / 1 / 2).
export type CheckStatus = 'ok' | 'warning' | 'critical' | 'skipped';

export interface DiagCheck {
  /** e.g. resources.cpu, plc.conveyor-1, broker.mqtts://wms-a:8883, clock, outbox, slots, logs */
  name: string;
  status: CheckStatus;
  message: string;
  /** What to do about it, for every check that is not ok. */
  recommendation?: string | undefined;
  detail?: Record<string, unknown> | undefined;
  durationMs?: number | undefined;
}

export type Verdict = 'healthy' | 'degraded' | 'failing';

export function verdictOf(checks: DiagCheck[]): { status: Verdict; exitCode: 0 | 1 | 2 } {
  if (checks.some((c) => c.status === 'critical')) return { status: 'failing', exitCode: 2 };
  if (checks.some((c) => c.status === 'warning')) return { status: 'degraded', exitCode: 1 };
  return { status: 'healthy', exitCode: 0 };
}

/** Time a check; a check that throws becomes a critical result naming the error rather than a crash. */
export async function timed(
  name: string,
  fn: () => Promise<DiagCheck | DiagCheck[]>,
  recommendation: string,
): Promise<DiagCheck[]> {
  const t = performance.now();
  try {
    const r = await fn();
    const list = Array.isArray(r) ? r : [r];
    const ms = Math.round(performance.now() - t);
    return list.map((c) => ({ ...c, durationMs: c.durationMs ?? ms }));
  } catch (e) {
    return [
      {
        name,
        status: 'critical',
        message: `check failed: ${e instanceof Error ? e.message : String(e)}`,
        recommendation,
        durationMs: Math.round(performance.now() - t),
      },
    ];
  }
}

export function errCode(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { errno?: unknown };
  return typeof err?.code === 'string' ? err.code : e instanceof Error ? e.message : String(e);
}
