// Alerts that must not be lost when the process exits right after raising them (the watchdog's
// escalation): if the broker has not acknowledged one within a short wait, it is appended to
// $DATA_DIR/alerts-pending.jsonl (fsynced) and sent by the next start, before anything else.
import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** How long an exit waits for the broker's acknowledgement of its last alert (ms). */
export const ALERT_FLUSH_MS = 3000;
/** Lines kept in the pending file; older ones are dropped (a restart loop must not fill the disk). */
const MAX_PENDING = 100;

export interface PendingAlert {
  ts: string;
  level: 'warning' | 'critical';
  code: string;
  message: string;
}

export const pendingAlertsPath = (dataDir: string) => join(dataDir, 'alerts-pending.jsonl');

export function savePendingAlert(dataDir: string, a: PendingAlert): void {
  const file = pendingAlertsPath(dataDir);
  appendFileSync(file, JSON.stringify(a) + '\n', { mode: 0o600 });
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Alerts left by a previous run (oldest first), and the file removed once they are handed over. */
export function takePendingAlerts(dataDir: string): PendingAlert[] {
  const file = pendingAlertsPath(dataDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: PendingAlert[] = [];
  for (const line of text.split('\n').slice(-MAX_PENDING - 1)) {
    try {
      const a = JSON.parse(line) as Partial<PendingAlert>;
      if (typeof a.code === 'string' && typeof a.message === 'string' && typeof a.ts === 'string')
        out.push({
          ts: a.ts,
          level: a.level === 'warning' ? 'warning' : 'critical',
          code: a.code,
          message: a.message,
        });
    } catch {
      // a torn last line from a crash mid-write: skipped
    }
  }
  rmSync(file, { force: true });
  return out;
}

/** Wait until `sent` settles or ALERT_FLUSH_MS passed; true when it was acknowledged in time. */
export async function flushed(
  sent: Promise<unknown> | undefined,
  ms = ALERT_FLUSH_MS,
): Promise<boolean> {
  if (!sent) return false;
  let timer: NodeJS.Timeout | undefined;
  const ok = await Promise.race([
    sent.then(() => true).catch(() => false),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  return ok;
}
