// Operator logs: JSON lines (pino), pretty in a TTY. One event per line, with the PLC/tag/command it is about.
import { pino, type Logger, type DestinationStream } from 'pino';
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';

/** Log lines held in memory at most while the log file cannot be written. */
export const LOG_BUFFER_MAX_BYTES = 1024 * 1024;

export type { Logger };

// The agent's log file ($DATA_DIR/logs/agent.log) per logger, so log rotation can reopen it after a rename.
const logFiles = new WeakMap<Logger, { reopen(): void }>();

/** Reopen the logger's file (after rotation renamed it); false when it writes to no file. */
export function reopenLogFile(logger: Logger): boolean {
  const f = logFiles.get(logger);
  f?.reopen();
  return Boolean(f);
}

export function createLogger(
  opts: {
    level?: string;
    name?: string;
    destination?: DestinationStream;
    /** Also write JSON lines to this file (the agent: $DATA_DIR/logs/agent.log). */
    file?: string;
    /** With `file`: false writes to the file only. */
    console?: boolean;
  } = {},
): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  const base = {
    level,
    name: opts.name ?? 'wms-gateway',
    redact: ['password', '*.password', 'key', '*.key', 'token', '*.token'],
  };
  if (opts.destination) return pino(base, opts.destination);
  if (opts.file) {
    // Sync writes: the last lines before a crash or a watchdog exit must reach the file.
    // maxLength bounds what waits in memory while the file cannot be written (a full disk): beyond
    // it lines are dropped rather than kept without bound.
    const file = pino.destination({
      dest: opts.file,
      mkdir: true,
      sync: true,
      maxLength: LOG_BUFFER_MAX_BYTES,
    });
    degradeOnError(file, opts.file);
    const tty = process.stdout.isTTY && !process.env.LOG_JSON;
    const out = tty
      ? (createRequire(import.meta.url)('pino-pretty') as (o: object) => DestinationStream)({
          colorize: true,
          translateTime: 'SYS:HH:MM:ss.l',
        })
      : pino.destination(1);
    // stdout closed under us (EPIPE) must not kill the process either.
    (out as unknown as EventEmitter).on?.('error', () => undefined);
    const streams =
      opts.console === false
        ? [{ level, stream: file }]
        : [
            { level, stream: out },
            { level, stream: file },
          ];
    const logger = pino(base, pino.multistream(streams));
    logFiles.set(logger, file);
    return logger;
  }
  if (process.stdout.isTTY && !process.env.LOG_JSON)
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' },
      },
    });
  return pino(base);
}

/**
 * A log file that cannot be written (ENOSPC on a full disk, EIO) emits 'error' on its sonic-boom
 * stream; without a listener that is an unhandled exception that kills the agent (a crash loop for as
 * long as the disk stays full). Logging degrades instead: one line on stderr when the file fails, one
 * when it is written again (sonic-boom retries what it holds at the next line).
 */
function degradeOnError(stream: EventEmitter, path: string): void {
  let failing = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (failing) return;
    failing = true;
    process.stderr.write(
      `${JSON.stringify({ level: 40, time: Date.now(), file: path, err: err.code ?? err.message, msg: 'log file cannot be written; lines are dropped until it can' })}\n`,
    );
  });
  stream.on('write', () => {
    if (!failing) return;
    failing = false;
    process.stderr.write(
      `${JSON.stringify({ level: 30, time: Date.now(), file: path, msg: 'log file writable again' })}\n`,
    );
  });
}
