// Operator logs: JSON lines (pino), pretty in a TTY. One event per line, with the PLC/tag/command it is about.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(
  opts: { level?: string; name?: string; destination?: DestinationStream } = {},
): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  const base = {
    level,
    name: opts.name ?? 'wms-gateway',
    redact: ['password', '*.password', 'key', '*.key', 'token', '*.token'],
  };
  if (opts.destination) return pino(base, opts.destination);
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
