// Search the agent's pino logs in $DATA_DIR/logs, rotated and gzipped ones included, in time order.
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { ROTATED_RE } from '../maintenance/log-rotation.js';

export const LEVELS: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};
export const LEVEL_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(LEVELS).map(([k, v]) => [v, k]),
);
/** Longest log line looked at; longer ones are cut (a runaway line must not exhaust memory). */
export const MAX_LINE_CHARS = 64 * 1024;

export interface LogEntry {
  time: number;
  level: number;
  msg: string;
  file: string;
  raw: Record<string, unknown>;
}

export interface LogQuery {
  logsDir: string;
  /** Lowest level shown (name or number). */
  level?: string | number | undefined;
  since?: Date | undefined;
  grep?: string | undefined;
  /** Keep the last N matches. */
  limit?: number | undefined;
}

export class LogQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogQueryError';
  }
}

export function isLogQueryError(e: unknown): e is LogQueryError {
  return e instanceof LogQueryError;
}

/** `--since` as an ISO date or a duration back from now: 30m, 2h, 7d, 90s. */
export function parseSince(text: string, now = new Date()): Date {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(text.trim());
  if (m) {
    const mult = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[m[2] as 's'];
    return new Date(now.getTime() - Number(m[1]) * mult);
  }
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new LogQueryError(
      `--since "${text}": use an ISO date (2026-11-22T10:00:00Z) or a duration (30m, 2h, 7d)`,
    );
  return new Date(t);
}

export function parseLevel(l: string | number | undefined): number {
  if (l === undefined) return 0;
  if (typeof l === 'number') return l;
  const v = LEVELS[l.toLowerCase()] ?? (Number.isInteger(Number(l)) ? Number(l) : undefined);
  if (v === undefined)
    throw new LogQueryError(`--level "${l}": use one of ${Object.keys(LEVELS).join(', ')}`);
  return v;
}

/** Log files oldest first: rotated ones by their stamp, then the active ones. */
async function logFiles(logsDir: string, since?: Date): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(logsDir);
  } catch {
    return [];
  }
  const rotated: Array<[string, string]> = [];
  const active: string[] = [];
  for (const n of names) {
    const m = ROTATED_RE.exec(n);
    if (m?.groups) rotated.push([m.groups.stamp!, n]);
    else if (n.endsWith('.log')) active.push(n);
  }
  rotated.sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
  // A rotated file holds lines up to its stamp: one rotated before `since` has nothing newer.
  const sinceStamp = since
    ?.toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return [
    ...rotated.filter(([s]) => !sinceStamp || s >= sinceStamp).map(([, n]) => n),
    ...active.sort(),
  ];
}

function parseLine(line: string, file: string): LogEntry | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const raw = JSON.parse(
      line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line,
    ) as Record<string, unknown>;
    const time = typeof raw.time === 'number' ? raw.time : Date.parse(String(raw.time));
    const level = typeof raw.level === 'number' ? raw.level : (LEVELS[String(raw.level)] ?? 30);
    if (Number.isNaN(time)) return undefined;
    return { time, level, msg: typeof raw.msg === 'string' ? raw.msg : '', file, raw };
  } catch {
    return undefined; // not one of ours, or cut
  }
}

/** Every entry matching the query, oldest first (only the last `limit` are kept in memory). */
export async function searchLogs(q: LogQuery): Promise<LogEntry[]> {
  const minLevel = parseLevel(q.level);
  const needle = q.grep?.toLowerCase();
  const out: LogEntry[] = [];
  const limit = q.limit ?? Infinity;
  for (const name of await logFiles(q.logsDir, q.since)) {
    const path = join(q.logsDir, name);
    let input: Readable = createReadStream(path);
    if (name.endsWith('.gz')) input = input.pipe(createGunzip());
    const rl = createInterface({ input, crlfDelay: Infinity });
    try {
      for await (const line of rl) {
        if (needle && !line.toLowerCase().includes(needle)) continue;
        const e = parseLine(line, name);
        if (!e || e.level < minLevel || (q.since && e.time < q.since.getTime())) continue;
        out.push(e);
        if (out.length > limit) out.shift();
      }
    } catch {
      // A truncated .gz (rotation interrupted by a power cut): keep what was read.
    } finally {
      rl.close();
      input.destroy();
    }
  }
  return out;
}

/** Kind of an error entry: the error's code or type, else its message. */
export function kindOf(e: LogEntry): string {
  const err = e.raw.err as { code?: unknown; type?: unknown } | undefined;
  if (err && typeof err.code === 'string') return `${err.code}: ${e.msg}`;
  if (err && typeof err.type === 'string' && err.type !== 'Error') return `${err.type}: ${e.msg}`;
  return e.msg || '(no message)';
}

export function formatEntry(e: LogEntry): string {
  const { time: _t, level: _l, msg: _m, pid: _p, hostname: _h, name: _n, ...rest } = e.raw;
  const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
  return `${new Date(e.time).toISOString()} ${(LEVEL_NAMES[e.level] ?? String(e.level)).toUpperCase().padEnd(5)} ${e.msg}${extra}`;
}
