// Bundle download with got: resumes by Range after a broken connection, hard size cap, timeouts,
// and an abort when throughput stays below a floor (a stalled thin link is retried, not waited on).
import { createWriteStream, existsSync, renameSync, statSync, rmSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { got } from 'got';
import { OtaRefusal } from '../errors.js';

export interface DownloadSettings {
  /** Connect timeout (ms). */
  connectTimeoutMs: number;
  /** No byte received for this long aborts the attempt (ms). */
  idleTimeoutMs: number;
  /** Attempts after the first, each resuming where the last stopped. */
  retries: number;
  /** Pause between attempts (ms). */
  retryDelayMs: number;
  /** Throughput floor (bytes/s) ... */
  minBytesPerSecond: number;
  /** ... measured over this window (s): slower for a whole window aborts the attempt. */
  lowThroughputSeconds: number;
  /**
   * The whole download, every attempt and pause included, is abandoned (refusal `timeout`, partial
   * file removed) after this long: a server dripping just above the throughput floor cannot hold the
   * updater for hours. ota.downloadDeadlineSeconds.
   */
  deadlineMs: number;
}

export const DEFAULT_DOWNLOAD: DownloadSettings = {
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  retries: 5,
  retryDelayMs: 1000,
  minBytesPerSecond: 1024,
  lowThroughputSeconds: 60,
  deadlineMs: 3600_000,
};

export interface DownloadRequest {
  url: string;
  file: string;
  /** Hard cap: more bytes than this is a refusal (too-large), never a longer download. */
  maxBytes: number;
  settings?: Partial<DownloadSettings>;
  onProgress?: (bytes: number, total: number | undefined) => void;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

class SlowLinkError extends Error {}

/** Download `url` to `file` (via `file.part`, kept between attempts and restarts for Range resume). */
export async function download(req: DownloadRequest): Promise<void> {
  const s = { ...DEFAULT_DOWNLOAD, ...req.settings };
  const part = `${req.file}.part`;
  mkdirSync(dirname(part), { recursive: true });
  let lastError: unknown;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), s.deadlineMs);
  timer.unref();
  const expired = () =>
    new OtaRefusal(
      'timeout',
      `download of ${req.url} not done within ${Math.round(s.deadlineMs / 1000)} s (ota.downloadDeadlineSeconds)`,
    );
  try {
    for (let attempt = 0; attempt <= s.retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, s.retryDelayMs));
      try {
        if (deadline.signal.aborted) throw expired();
        await attemptOnce(req, s, part, deadline.signal, expired);
        renameSync(part, req.file);
        return;
      } catch (e) {
        if (e instanceof OtaRefusal) {
          rmSync(part, { force: true });
          throw e;
        }
        lastError = e;
        req.log?.('ota download attempt failed', {
          url: req.url,
          attempt,
          have: existsSync(part) ? statSync(part).size : 0,
          error: (e as Error).message,
        });
      }
    }
  } finally {
    clearTimeout(timer);
  }
  rmSync(part, { force: true });
  throw new OtaRefusal(
    'download-failed',
    `download of ${req.url} failed after ${s.retries + 1} attempts: ${(lastError as Error)?.message ?? lastError}`,
  );
}

async function attemptOnce(
  req: DownloadRequest,
  s: DownloadSettings,
  part: string,
  deadline: AbortSignal,
  expired: () => OtaRefusal,
): Promise<void> {
  let have = existsSync(part) ? statSync(part).size : 0;
  if (have > req.maxBytes)
    throw new OtaRefusal(
      'too-large',
      `download is larger than the ${req.maxBytes} bytes announced`,
    );
  const stream = got.stream(req.url, {
    headers: have > 0 ? { range: `bytes=${have}-` } : {},
    timeout: { connect: s.connectTimeoutMs, socket: s.idleTimeoutMs, response: s.idleTimeoutMs },
    retry: { limit: 0 },
    decompress: false,
  });
  await new Promise<void>((resolve, reject) => {
    let out: ReturnType<typeof createWriteStream> | undefined;
    let total: number | undefined;
    let windowBytes = 0;
    let slowWindows = 0;
    const timer = setInterval(() => {
      // One-second ticks; the window is lowThroughputSeconds long.
      slowWindows = windowBytes < s.minBytesPerSecond ? slowWindows + 1 : 0;
      windowBytes = 0;
      if (slowWindows >= s.lowThroughputSeconds)
        fail(
          new SlowLinkError(
            `throughput below ${s.minBytesPerSecond} B/s for ${s.lowThroughputSeconds} s`,
          ),
        );
    }, 1000);
    let done = false;
    const fail = (e: unknown) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      stream.destroy();
      const finish = () => reject(e);
      if (out) out.end(finish);
      else finish();
    };
    stream.on(
      'response',
      (res: { statusCode: number; headers: Record<string, string | undefined> }) => {
        if (res.statusCode === 200 && have > 0)
          have = 0; // the server ignored Range: start over
        else if (res.statusCode !== 206 && res.statusCode !== 200)
          return fail(new Error(`HTTP ${res.statusCode}`));
        const len = Number(res.headers['content-length']);
        total = Number.isFinite(len) ? have + len : undefined;
        if (total !== undefined && total > req.maxBytes)
          return fail(
            new OtaRefusal(
              'too-large',
              `server announces ${total} bytes, more than the ${req.maxBytes} allowed`,
            ),
          );
        out = createWriteStream(part, { flags: have > 0 ? 'a' : 'w' });
        out.on('error', fail);
      },
    );
    stream.on('data', (c: Buffer) => {
      if (done || !out) return;
      have += c.length;
      windowBytes += c.length;
      if (have > req.maxBytes)
        return fail(
          new OtaRefusal('too-large', `download exceeded the ${req.maxBytes} bytes announced`),
        );
      if (!out.write(c)) {
        stream.pause();
        out.once('drain', () => stream.resume());
      }
      req.onProgress?.(have, total);
    });
    stream.on('error', fail);
    const onDeadline = () => fail(expired());
    deadline.addEventListener('abort', onDeadline, { once: true });
    stream.once('close', () => deadline.removeEventListener('abort', onDeadline));
    stream.on('end', () => {
      if (done) return;
      done = true;
      clearInterval(timer);
      const o = out;
      if (!o) return reject(new Error('no response body'));
      o.end(() => {
        if (total !== undefined && have < total)
          reject(new Error(`connection closed at ${have} of ${total} bytes`));
        else resolve();
      });
    });
  });
}
