// `maintenance:` section of the config: schedules, backups, log retention and pacing.
import { z } from 'zod';
import cron from 'node-cron';
import { sizeSchema } from '../../platform/config-fields.js';

const cronString = () =>
  z.string().refine((s) => cron.validate(s), 'must be a cron expression (e.g. "0 3 * * 0")');
const cronExpr = (def: string) => cronString().default(def);

/** Bounds of a window and of its announcement: one second (tests) up to a week. */
const WEEK_MINUTES = 7 * 24 * 60;

const windowSchema = z.strictObject({
  cron: cronString().describe(
    'When a window opens (node-cron, local time; an optional first field is seconds)',
  ),
  durationMinutes: z
    .number()
    .max(WEEK_MINUTES, `must be at most a week (${WEEK_MINUTES} minutes)`)
    // A refinement, not .min(): the reference would print 1/60 as 0.016666666666666666.
    .refine((v) => v >= 1 / 60, 'must be at least one second (1/60 minute)')
    .describe('How long a window stays open; fractions allowed (0.5 = 30 s), 1/60 to 10080'),
});

export const maintenanceSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('false: no scheduled jobs (the CLI still works)'),
    randomDelaySeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(300)
      .describe(
        'Each run starts after a random delay up to this, so a fleet does not fire at once',
      ),
    windows: z
      .array(windowSchema)
      .max(20)
      .default([])
      .describe(
        'Maintenance windows [{cron, durationMinutes}]: scheduled jobs run only inside one and are announced on maintenance/window; none: jobs run on their schedules',
      ),
    announceMinutes: z
      .number()
      .min(0)
      .max(WEEK_MINUTES)
      .default(15)
      .describe(
        'A window is announced (state scheduled) this long before it starts; fractions allowed, 0 to 10080',
      ),
    schedules: z
      .strictObject({
        fullBackup: cronExpr('0 3 * * 0').describe('Full backup (default Sunday 03:00)'),
        diffBackup: cronExpr('0 3 * * 1-6').describe(
          'Differential backup (default Monday-Saturday 03:00)',
        ),
        logRotation: cronExpr('30 2 * * *').describe('Log rotation, compression and deletion'),
        outboxCompaction: cronExpr('15 * * * *').describe('Outbox compaction'),
        integrityCheck: cronExpr('45 * * * *').describe('Config and OTA slot integrity check'),
      })
      .prefault({}),
    backups: z
      .strictObject({
        retentionDays: z
          .number()
          .int()
          .min(1)
          .max(3650)
          .default(90)
          .describe('Backups older than this are deleted (the last full is always kept)'),
        include: z
          .array(z.string())
          .default([
            'gateway.yaml',
            'gateway.yml',
            'gateway.json',
            'keys/**',
            'plc-maps/**',
            'maps/**',
            'state/**',
            '*.json',
            '*.jsonl',
            'ota/state.json',
            'ota/*.json',
          ])
          .describe('Files of $DATA_DIR to back up (globs: * and **)'),
        exclude: z
          .array(z.string())
          .default([
            'backups/**',
            'logs/**',
            'outbox/**',
            'ota/slots/**',
            'http-token',
            '**/*.key',
            '**/*.tmp',
          ])
          .describe(
            'Files never backed up; private keys (PEM or JWK with "d") are skipped whatever the globs say',
          ),
        maxFileBytes: sizeSchema(1024, 1024 ** 3)
          .default(64 * 1024 ** 2)
          .describe('Larger files are skipped and reported'),
      })
      .prefault({}),
    logs: z
      .strictObject({
        rotateMaxBytes: sizeSchema(1024, 10 * 1024 ** 3)
          .default(50 * 1024 ** 2)
          .describe('A log is also rotated when larger than this'),
        compressAfterDays: z
          .number()
          .min(0)
          .max(3650)
          .default(7)
          .describe('Rotated logs older than this are gzipped'),
        deleteAfterDays: z
          .number()
          .min(0)
          .max(3650)
          .default(90)
          .describe('Rotated logs (plain or gzipped) older than this are deleted'),
      })
      .prefault({}),
    reportHistory: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(200)
      .describe('Maintenance reports kept on disk'),
    ioChunkBytes: sizeSchema(4096, 16 * 1024 ** 2)
      .default(256 * 1024)
      .describe('I/O chunk of maintenance jobs; small chunks keep polling responsive'),
    busyShare: z
      .number()
      .gt(0)
      .max(1)
      .default(0.25)
      .describe(
        'Share of wall time a job may work; it rests the rest (KPI: maintenance < 30 % of resources)',
      ),
    pauseMs: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(2)
      .describe('Pause between chunks and files, yielding the event loop to polling'),
  })
  .prefault({});

export type MaintenanceConfig = z.output<typeof maintenanceSchema>;
