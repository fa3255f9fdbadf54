// Operator logs: JSON lines (pino), pretty in a TTY. One event per line, with the PLC/tag/command it is about.
import { pino, type Logger, type DestinationStream } from 'pino';
import { createRequire } from 'node:module';

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
    const file = pino.destination({ dest: opts.file, mkdir: true, sync: true });
    const tty = process.stdout.isTTY && !process.env.LOG_JSON;
    const out = tty
      ? (createRequire(import.meta.url)('pino-pretty') as (o: object) => DestinationStream)({
          colorize: true,
          translateTime: 'SYS:HH:MM:ss.l',
        })
      : pino.destination(1);
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
