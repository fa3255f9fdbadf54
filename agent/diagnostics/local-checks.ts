// Checks of the device itself: clock sanity, outbox depth, OTA state and slots, recent log errors.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiagCheck } from './check.js';
import { outboxCapacity } from '../outbox/capacity.js';
import { searchLogs, kindOf } from './log-search.js';

export const MIN_SANE_YEAR = 2024;
export const CLOCK_SKEW_WARN_MS = 60_000;
/** Window of the log check and how many errors in it make the gateway degraded. */
export const LOG_WINDOW_MS = 60 * 60 * 1000;
export const LOG_ERRORS_WARN = 1;

export function clockCheck(
  now: Date,
  ref?: { source: string; time?: Date; validFrom?: Date },
): DiagCheck {
  const name = 'clock';
  const advice =
    'Set the time: check NTP reaches a server (balena uses chronyd; UDP 123 must be open).';
  if (now.getUTCFullYear() < MIN_SANE_YEAR)
    return {
      name,
      status: 'critical',
      message: `system time ${now.toISOString()} is before ${MIN_SANE_YEAR}`,
      recommendation: `${advice} Certificates and command expiry cannot be checked with a wrong clock.`,
    };
  if (ref?.time) {
    const skew = now.getTime() - ref.time.getTime();
    if (Math.abs(skew) > CLOCK_SKEW_WARN_MS)
      return {
        name,
        status: 'warning',
        message: `system time differs by ${Math.round(skew / 1000)} s from ${ref.source}`,
        recommendation: advice,
        detail: { skewMs: skew },
      };
    return {
      name,
      status: 'ok',
      message: `${now.toISOString()}, within ${Math.round(Math.abs(skew) / 1000)} s of ${ref.source}`,
      detail: { skewMs: skew },
    };
  }
  if (ref?.validFrom && now < ref.validFrom)
    return {
      name,
      status: 'critical',
      message: `system time ${now.toISOString()} is before the ${ref.source} became valid (${ref.validFrom.toISOString()})`,
      recommendation: advice,
    };
  return {
    name,
    status: 'ok',
    message: `${now.toISOString()}${ref ? ` (consistent with ${ref.source})` : ''}`,
  };
}

async function dirSize(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return { bytes, files };
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const s = await dirSize(p);
      bytes += s.bytes;
      files += s.files;
    } else if (e.isFile()) {
      bytes += (await stat(p)).size;
      files++;
    }
  }
  return { bytes, files };
}

export async function outboxCheck(
  dataDir: string,
  maxBytes: number,
  fill: { warn: number; critical: number },
): Promise<DiagCheck[]> {
  const { bytes, files } = await dirSize(join(dataDir, 'outbox'));
  const pct = maxBytes > 0 ? (bytes / maxBytes) * 100 : 0;
  const status = pct > fill.critical ? 'critical' : pct > fill.warn ? 'warning' : 'ok';
  const fill_: DiagCheck = {
    name: 'outbox',
    status,
    message: `${bytes} bytes in ${files} files (${pct.toFixed(1)}% of ${maxBytes})`,
    recommendation:
      status === 'ok'
        ? undefined
        : 'Data is piling up: the WMS link is down or slow. Fix the broker link (see broker checks); past wms.outbox.maxBytes the oldest data is dropped.',
    detail: { bytes, files, maxBytes, pct: Math.round(pct * 10) / 10 },
  };
  return [fill_, capacityCheck(dataDir, maxBytes, bytes)];
}

/** The outbox bound against the file system that holds it (the data dir when the outbox is not there yet). */
function capacityCheck(dataDir: string, maxBytes: number, usedBytes: number): DiagCheck {
  let c;
  try {
    c = outboxCapacity(dataDir, maxBytes, usedBytes);
  } catch (e) {
    return {
      name: 'outbox.capacity',
      status: 'skipped',
      message: `file system of ${dataDir} not readable: ${(e as Error).message}`,
    };
  }
  return {
    name: 'outbox.capacity',
    status: c.fits ? 'ok' : 'warning',
    message: c.message,
    recommendation: c.fits
      ? undefined
      : 'Lower wms.outbox.maxBytes below the free space of $DATA_DIR (leave room for logs and backups), or give the data dir a larger partition.',
    detail: { maxBytes, fsBytes: c.fsBytes, availableBytes: c.availableBytes, usedBytes },
  };
}

export async function slotsCheck(dataDir: string): Promise<DiagCheck> {
  const path = join(dataDir, 'ota', 'state.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      return { name: 'slots', status: 'ok', message: 'no OTA update applied yet (factory slot)' };
    return {
      name: 'slots',
      status: 'critical',
      message: `OTA state unreadable: ${(e as NodeJS.ErrnoException).code}`,
      recommendation:
        'Check the permissions of $DATA_DIR/ota; `wms-gateway ota status` shows the state.',
    };
  }
  let st: { active?: unknown; phase?: unknown; slots?: Record<string, unknown> };
  try {
    st = JSON.parse(text) as typeof st;
    if (!st || typeof st !== 'object') throw new Error('not an object');
  } catch {
    return {
      name: 'slots',
      status: 'critical',
      message: `${path} is not valid JSON`,
      recommendation:
        'The OTA state is damaged: run `wms-gateway ota rollback` to return to a known slot, or restore a backup (`wms-gateway backup list`).',
    };
  }
  const problems: string[] = [];
  const active = typeof st.active === 'string' ? st.active : undefined;
  if (active && active !== 'factory') {
    const s = await stat(join(dataDir, 'ota', 'slots', active)).catch(() => undefined);
    if (!s?.isDirectory()) problems.push(`active slot ${active} is missing on disk`);
  }
  if (problems.length)
    return {
      name: 'slots',
      status: 'critical',
      message: problems.join('; '),
      recommendation:
        'Run `wms-gateway ota rollback` to the previous slot, or reinstall the release.',
      detail: { active, phase: st.phase },
    };
  return {
    name: 'slots',
    status: 'ok',
    message: `OTA state readable; active slot ${active ?? 'factory'}${st.phase ? `, phase ${String(st.phase)}` : ''}`,
    detail: { active, phase: st.phase },
  };
}

export async function logErrorsCheck(dataDir: string, now = new Date()): Promise<DiagCheck> {
  const since = new Date(now.getTime() - LOG_WINDOW_MS);
  const errors = await searchLogs({ logsDir: join(dataDir, 'logs'), level: 'error', since });
  const kinds = new Map<string, { count: number; last: string }>();
  for (const e of errors) {
    const k = kindOf(e);
    const cur = kinds.get(k) ?? { count: 0, last: '' };
    cur.count++;
    cur.last = new Date(e.time).toISOString();
    kinds.set(k, cur);
  }
  const grouped = [...kinds.entries()]
    .sort((a, b) => b[1].count - a[1].count)
    .map(([kind, v]) => ({ kind, ...v }));
  if (errors.length < LOG_ERRORS_WARN)
    return {
      name: 'logs',
      status: 'ok',
      message: `no errors in the last ${LOG_WINDOW_MS / 60000} min`,
    };
  return {
    name: 'logs',
    status: 'warning',
    message: `${errors.length} errors in the last ${LOG_WINDOW_MS / 60000} min: ${grouped
      .slice(0, 3)
      .map((g) => `${g.kind} ×${g.count}`)
      .join('; ')}`,
    recommendation:
      'Read them with `wms-gateway logs --level error --since 1h`; the most frequent kind is usually the cause of the others.',
    detail: { errors: errors.length, kinds: grouped.slice(0, 20) },
  };
}
