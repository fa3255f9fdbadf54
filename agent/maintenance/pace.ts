// Low-priority I/O for maintenance: os.setPriority is per process, so instead the jobs work in bounded
// chunks and rest between them — at least pauseMs, and long enough that work takes no more than
// busyShare of the wall time — so PLC polling is never held up and the KPI (< 30 % of resources) holds.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { setImmediate as yieldNow, setTimeout as sleep } from 'node:timers/promises';

export interface Pace {
  chunkBytes: number;
  pauseMs: number;
  /** Share of wall time the job may work (0-1]; 1 = only pauseMs between chunks. */
  busyShare?: number;
}

export const DEFAULT_PACE: Pace = { chunkBytes: 256 * 1024, pauseMs: 2, busyShare: 0.25 };
/** Longest single rest, so a slow chunk (a busy disk) does not stall a job for long. */
export const MAX_REST_MS = 1000;

/** Rest after `workMs` of work. */
export async function yieldTo(pace: Pace, workMs = 0): Promise<void> {
  const share = pace.busyShare ?? 1;
  const rest = Math.min(
    MAX_REST_MS,
    Math.max(pace.pauseMs, share < 1 ? (workMs * (1 - share)) / share : 0),
  );
  if (rest > 0) await sleep(rest);
  else await yieldNow();
}

/** A pass-through stream that rests between chunks the same way (for gzip pipelines). */
export function pacedStream(pace: Pace): Transform {
  let since = performance.now();
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const work = performance.now() - since;
      void yieldTo(pace, work).then(() => {
        since = performance.now();
        done(null, chunk);
      });
    },
  });
}

/** Read a file in paced chunks; returns its content and sha256 (hex). */
export async function readPaced(
  path: string,
  pace: Pace,
): Promise<{ data: Buffer; sha256: string }> {
  const fh = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    const parts: Buffer[] = [];
    const buf = Buffer.allocUnsafe(pace.chunkBytes);
    for (;;) {
      const t = performance.now();
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = Buffer.from(buf.subarray(0, bytesRead));
      hash.update(chunk);
      parts.push(chunk);
      await yieldTo(pace, performance.now() - t);
    }
    return { data: Buffer.concat(parts), sha256: hash.digest('hex') };
  } finally {
    await fh.close();
  }
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
