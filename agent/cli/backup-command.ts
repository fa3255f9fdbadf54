// `wms-gateway backup list|create|restore|verify`: config and state backups of the data dir.
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { UsageError } from '../../platform/usage-error.js';
import { progressOption, progressReporter, type ProgressMode } from './progress-reporter.js';

const DATA_DIR_HELP = 'persistent state directory (default ./data, /data under balena)';

async function backupSettings(opts: { config?: string; dataDir?: string }) {
  const { loadConfig, resolveDataDir } = await import('../config/load.js');
  const { validateConfig } = await import('../config/validate.js');
  const { isConfigError } = await import('../../platform/config-error.js');
  try {
    const r = loadConfig({ configPath: opts.config, dataDir: opts.dataDir });
    return { dataDir: r.dataDir, m: r.config.maintenance };
  } catch (e) {
    if (!isConfigError(e)) throw e;
    // A broken config must not prevent backing up (or restoring) the rest.
    process.stderr.write(
      `wms-gateway: config invalid (${e.message.split('\n')[0]}); using default backup settings\n`,
    );
    return {
      dataDir: resolveDataDir({ dataDir: opts.dataDir }),
      m: validateConfig({}).maintenance,
    };
  }
}

async function asUsage<T>(fn: () => Promise<T>): Promise<T> {
  const { isBackupError } = await import('../maintenance/errors.js');
  try {
    return await fn();
  } catch (e) {
    if (isBackupError(e)) throw new UsageError(e.message, e.code === 'not-found' ? 2 : 1);
    throw e;
  }
}

export function registerBackupCommand(program: Command): void {
  const backup = program
    .command('backup')
    .description('config and state backups (full weekly + differential daily by default)');
  backup
    .command('list')
    .description('list the backups, oldest first')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir?: string; json?: boolean }) => {
      const { resolveDataDir } = await import('../config/load.js');
      const { listBackups, summarize, backupsDirOf } =
        await import('../maintenance/backup-store.js');
      const list = (await listBackups(backupsDirOf(resolveDataDir({ dataDir: opts.dataDir })))).map(
        summarize,
      );
      if (opts.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      if (!list.length) return void process.stdout.write('no backups\n');
      for (const b of list)
        process.stdout.write(
          `${b.id}  ${b.kind.padEnd(4)}  ${b.createdAt}  ${String(b.files).padStart(4)} files  ${String(b.bytes).padStart(10)} bytes${b.base ? `  (on ${b.base})` : ''}\n`,
        );
    });
  backup
    .command('create')
    .description('make a backup now (default full)')
    .option('--full', 'full backup')
    .option('--diff', 'differential: what changed since the last full')
    .option('--config <file>', 'config file (its maintenance.backups settings)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .addOption(progressOption())
    .action(
      async (opts: {
        full?: boolean;
        diff?: boolean;
        config?: string;
        dataDir?: string;
        progress: ProgressMode;
      }) => {
        if (opts.full && opts.diff) throw new UsageError('--full and --diff exclude each other');
        const { dataDir, m } = await backupSettings(opts);
        const { createBackup, verifyBackup, backupsDirOf } =
          await import('../maintenance/backup-store.js');
        const progress = progressReporter(opts.progress);
        const made = await asUsage(() =>
          createBackup(opts.diff ? 'diff' : 'full', {
            dataDir,
            ...m.backups,
            onProgress: progress.onProgress,
          }),
        ).finally(() => progress.stop());
        const problems = await verifyBackup(backupsDirOf(dataDir), made.id);
        if (problems.length)
          throw new UsageError(`backup ${made.id} failed verification: ${problems.join('; ')}`, 1);
        const bytes = made.files.reduce((n, f) => n + f.bytes, 0);
        process.stdout.write(
          `${made.id}: ${made.kind}, ${made.files.length} files, ${bytes} bytes, verified${made.base ? ` (on ${made.base})` : ''}\n`,
        );
        for (const s of made.skippedFiles)
          process.stdout.write(`  skipped ${s.rel}: ${s.reason}\n`);
      },
    );
  backup
    .command('verify')
    .description('check every file of a backup against its sha256')
    .argument('<id>', 'backup id (see backup list)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (id: string, opts: { dataDir?: string }) => {
      const { resolveDataDir } = await import('../config/load.js');
      const { verifyBackup, backupsDirOf } = await import('../maintenance/backup-store.js');
      const problems = await asUsage(() =>
        verifyBackup(backupsDirOf(resolveDataDir({ dataDir: opts.dataDir })), id),
      );
      if (problems.length)
        throw new UsageError(`backup ${id} is damaged: ${problems.join('; ')}`, 1);
      process.stdout.write(`${id}: every file matches its sha256\n`);
    });
  backup
    .command('restore')
    .description(
      'restore a backup (a differential restores its full first); hashes are checked before anything is written',
    )
    .argument('<id>', 'backup id (see backup list)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option(
      '--from <dir>',
      'backups directory (default $DATA_DIR/backups), e.g. to restore onto a fresh data dir',
    )
    .addOption(progressOption())
    .action(
      async (id: string, opts: { dataDir?: string; from?: string; progress: ProgressMode }) => {
        const { resolveDataDir } = await import('../config/load.js');
        const { restoreBackup } = await import('../maintenance/backup-store.js');
        const dataDir = resolveDataDir({ dataDir: opts.dataDir });
        const backupsDir = opts.from ? resolve(opts.from) : join(dataDir, 'backups');
        const progress = progressReporter(opts.progress);
        const r = await asUsage(() =>
          restoreBackup({ backupsDir, targetDir: dataDir, id, onProgress: progress.onProgress }),
        ).finally(() => progress.stop());
        process.stdout.write(
          `${r.id}: restored ${r.files} files (${r.bytes} bytes) into ${dataDir}${r.deleted ? `, removed ${r.deleted}` : ''}; restart the agent to use them\n`,
        );
      },
    );
}
