// Rotation of $DATA_DIR/logs: each active `<name>.log` becomes `<name>.<stamp>.log`; rotated logs are
// gzipped after compressAfterDays and deleted after deleteAfterDays. Ages come from the stamp in the
// name (when the file was rotated), so they do not depend on file times a copy may have changed.
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, open, readdir, rename, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { yieldTo, pacedStream, DEFAULT_PACE, type Pace } from './pace.js';

export const ROTATED_RE = /^(?<name>.+)\.(?<stamp>\d{8}T\d{6}Z)(?:-\d+)?\.log(?<gz>\.gz)?$/;

export interface RotationOptions {
  logsDir: string;
  compressAfterDays: number;
  deleteAfterDays: number;
  /** Rotate active logs (false: only compress and delete). */
  rotate?: boolean;
  /** Rotate only active logs larger than this (0 = every non-empty one). */
  minBytes?: number;
  /** Reopen the logger's file after a rename; without it the log is copied then truncated. */
  reopen?: (() => void) | undefined;
  now?: Date;
  pace?: Pace;
}

export interface RotationResult {
  rotated: string[];
  compressed: string[];
  deleted: string[];
  bytesFreed: number;
}

export function stampOf(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

function stampTime(stamp: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp)!;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

async function gzipFile(src: string, pace: Pace): Promise<number> {
  const dest = `${src}.gz`;
  const tmp = `${dest}.tmp`;
  await pipeline(
    createReadStream(src, { highWaterMark: pace.chunkBytes }),
    pacedStream(pace),
    createGzip(),
    createWriteStream(tmp),
  );
  const fh = await open(tmp, 'r+');
  await fh.sync();
  await fh.close();
  await rename(tmp, dest);
  const before = (await stat(src)).size;
  await unlink(src);
  return before - (await stat(dest)).size;
}

export async function rotateLogs(o: RotationOptions): Promise<RotationResult> {
  const pace = o.pace ?? DEFAULT_PACE;
  const now = o.now ?? new Date();
  const res: RotationResult = { rotated: [], compressed: [], deleted: [], bytesFreed: 0 };
  let names: string[];
  try {
    names = await readdir(o.logsDir);
  } catch {
    return res;
  }
  if (o.rotate ?? true) {
    let reopened = false;
    for (const n of names) {
      if (!n.endsWith('.log') || ROTATED_RE.test(n)) continue;
      const abs = join(o.logsDir, n);
      const st = await stat(abs);
      if (!st.isFile() || st.size === 0 || st.size < (o.minBytes ?? 0)) continue;
      let target = join(o.logsDir, `${n.slice(0, -4)}.${stampOf(now)}.log`);
      for (
        let i = 2;
        names.includes(target.slice(o.logsDir.length + 1)) ||
        (await stat(target).catch(() => null));
        i++
      )
        target = join(o.logsDir, `${n.slice(0, -4)}.${stampOf(now)}-${i}.log`);
      if (o.reopen) {
        await rename(abs, target);
        reopened = true;
      } else {
        // No way to make the writer reopen: copy then truncate (the writer appends, so it carries on at 0).
        await copyFile(abs, target);
        await truncate(abs, 0);
      }
      res.rotated.push(target.slice(o.logsDir.length + 1));
      await yieldTo(pace);
    }
    if (reopened) o.reopen?.();
  }
  for (const n of await readdir(o.logsDir)) {
    const m = ROTATED_RE.exec(n);
    if (!m?.groups) continue;
    const ageDays = (now.getTime() - stampTime(m.groups.stamp!)) / 86_400_000;
    const abs = join(o.logsDir, n);
    if (ageDays >= o.deleteAfterDays) {
      res.bytesFreed += (await stat(abs)).size;
      await unlink(abs);
      res.deleted.push(n);
    } else if (!m.groups.gz && ageDays >= o.compressAfterDays) {
      res.bytesFreed += await gzipFile(abs, pace);
      res.compressed.push(n);
    }
    await yieldTo(pace);
  }
  return res;
}
