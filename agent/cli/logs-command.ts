// `wms-gateway logs`: search the agent's logs in $DATA_DIR/logs, rotated .gz files included.
import type { Command } from 'commander';
import { join } from 'node:path';
import { UsageError } from '../../platform/usage-error.js';

export const DEFAULT_LOG_LIMIT = 200;

export function registerLogsCommand(program: Command): void {
  program
    .command('logs')
    .description('search the agent logs (rotated and gzipped ones included), oldest first')
    .option('--level <level>', 'lowest level: trace, debug, info, warn, error, fatal')
    .option('--since <when>', 'ISO date or a duration back from now (30m, 2h, 7d)')
    .option('--grep <text>', 'only lines containing this text (case-insensitive)')
    .option('--limit <n>', `show the last N matches (default ${DEFAULT_LOG_LIMIT}; 0 = all)`)
    .option('--json', 'print the raw JSON lines')
    .option('--data-dir <dir>', 'persistent state directory (default ./data, /data under balena)')
    .action(
      async (opts: {
        level?: string;
        since?: string;
        grep?: string;
        limit?: string;
        json?: boolean;
        dataDir?: string;
      }) => {
        const { resolveDataDir } = await import('../config/load.js');
        const { searchLogs, parseSince, parseLevel, formatEntry, isLogQueryError } =
          await import('../diagnostics/log-search.js');
        const limit = opts.limit === undefined ? DEFAULT_LOG_LIMIT : Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 0)
          throw new UsageError(`--limit "${opts.limit}": must be a whole number ≥ 0`);
        let entries;
        try {
          parseLevel(opts.level);
          entries = await searchLogs({
            logsDir: join(resolveDataDir({ dataDir: opts.dataDir }), 'logs'),
            level: opts.level,
            since: opts.since ? parseSince(opts.since) : undefined,
            grep: opts.grep,
            limit: limit || undefined,
          });
        } catch (e) {
          if (isLogQueryError(e)) throw new UsageError(e.message);
          throw e;
        }
        const out = entries
          .map((e) => (opts.json ? JSON.stringify(e.raw) : formatEntry(e)))
          .join('\n');
        process.stdout.write(out ? out + '\n' : '');
      },
    );
}
