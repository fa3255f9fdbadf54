// Maintenance jobs through the scheduler's public run(): a corrupted config is detected and restored from
// the last good backup (with a critical alert); log rotation compresses and deletes by age; every run
// leaves a report on disk and goes to publishReport; asking for a job already running does not start another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { Maintenance } from '../../agent/maintenance/scheduler.js';
import { recordFileHash } from '../../agent/maintenance/integrity-check.js';
import { rotateLogs } from '../../agent/maintenance/log-rotation.js';
import type { MaintenanceReport } from '../../agent/maintenance/report.js';
import { validateConfig } from '../../agent/config/validate.js';

const GOOD = 'gateway: { tenant: acme, id: gw-01 }\nwms: { qos: 1, heartbeatSeconds: 30 }\n';

function setup(now = () => new Date()) {
  const dir = tmpDir();
  const configPath = join(dir.path, 'gateway.yaml');
  writeFileSync(configPath, GOOD);
  const alerts: Array<[string, string, string]> = [];
  const published: MaintenanceReport[] = [];
  const m = new Maintenance({
    dataDir: dir.path,
    configPath,
    config: validateConfig({ maintenance: { pauseMs: 0, reportHistory: 3 } }).maintenance,
    now,
    hooks: {
      alert: (level, code, message) => alerts.push([level, code, message]),
      publishReport: (r) => void published.push(r),
    },
  });
  return { dir, configPath, alerts, published, m };
}

test(
  'a corrupted config is detected and restored from the last good backup',
  { timeout: 30_000 },
  async () => {
    const { dir, configPath, alerts, published, m } = setup();
    try {
      await recordFileHash(dir.path, configPath);
      const backup = await m.run('fullBackup');
      assert.deepEqual(backup.problems, []);
      assert.deepEqual(
        backup.steps.map((s) => [s.name, s.ok]),
        [
          ['backup', true],
          ['verify', true],
          ['retention', true],
        ],
      );

      const clean = await m.run('integrityCheck');
      assert.deepEqual(clean.problems, []);
      assert.equal((clean.steps[0]!.detail as { status: string }).status, 'ok');

      // A torn write: half the file, then garbage.
      writeFileSync(configPath, GOOD.slice(0, 20) + '\u0000\u0000{{{');
      const r = await m.run('integrityCheck');
      const detail = r.steps.find((s) => s.name === 'config')!.detail as {
        status: string;
        restoredFrom: string;
      };
      assert.equal(detail.status, 'restored');
      assert.match(detail.restoredFrom, /-full$/);
      assert.equal(readFileSync(configPath, 'utf8'), GOOD, 'the good config is back');
      assert.ok(
        alerts.some(
          ([level, code]) => level === 'critical' && code === 'maintenance.config-restored',
        ),
        JSON.stringify(alerts),
      );

      // A valid hand edit is not "repaired": it is re-recorded and a warning raised.
      writeFileSync(configPath, GOOD + 'commands: { requireSignature: true }\n');
      const edited = await m.run('integrityCheck');
      assert.equal((edited.steps[0]!.detail as { status: string }).status, 'changed');
      assert.ok(readFileSync(configPath, 'utf8').includes('requireSignature'));
      assert.ok(
        alerts.some(
          ([level, code]) => level === 'warning' && code === 'maintenance.config-changed',
        ),
      );

      // Reports: handed to publishReport and kept on disk, bounded to reportHistory (3).
      assert.equal(published.length, 4);
      const kept = await m.reports();
      assert.equal(kept.length, 3);
      assert.deepEqual(
        kept.map((k) => k.job),
        ['integrityCheck', 'integrityCheck', 'integrityCheck'],
      );
      assert.ok(
        kept.every(
          (k) => typeof k.durationMs === 'number' && typeof k.cpuPct === 'number' && k.startedAt,
        ),
      );
    } finally {
      await m.stop();
      dir.cleanup();
    }
  },
);

test(
  'a corrupted config with no valid backup is reported, not replaced',
  { timeout: 30_000 },
  async () => {
    const { dir, configPath, alerts, m } = setup();
    try {
      writeFileSync(configPath, 'plcs: [ {id: 3} ]\n');
      const r = await m.run('integrityCheck');
      assert.equal(r.problems.length, 1);
      assert.match(r.problems[0]!, /config: .*no backup holds a valid copy/);
      assert.equal(readFileSync(configPath, 'utf8'), 'plcs: [ {id: 3} ]\n');
      assert.ok(alerts.some(([l, c]) => l === 'critical' && c === 'maintenance.config-corrupt'));
    } finally {
      await m.stop();
      dir.cleanup();
    }
  },
);

test(
  'jobs do not overlap: asking for a running job returns that run',
  { timeout: 30_000 },
  async () => {
    const { dir, m } = setup();
    try {
      const [a, b] = [m.run('fullBackup'), m.run('fullBackup')];
      assert.equal(a, b);
      const c = m.run('diffBackup');
      const [ra, rc] = await Promise.all([a, c]);
      // The diff ran after the full (one job at a time), so it is built on it.
      assert.ok(Date.parse(rc.startedAt) >= Date.parse(ra.startedAt) + ra.durationMs - 5);
      const diffDetail = rc.steps[0]!.detail as { kind: string };
      assert.equal(diffDetail.kind, 'diff');
    } finally {
      await m.stop();
      dir.cleanup();
    }
  },
);

test(
  'log rotation: active logs rotated, compressed after 7 days, deleted after 90',
  { timeout: 30_000 },
  async () => {
    const dir = tmpDir();
    try {
      const logs = join(dir.path, 'logs');
      mkdirSync(logs);
      const line = (msg: string) => JSON.stringify({ level: 30, time: Date.now(), msg }) + '\n';
      writeFileSync(join(logs, 'agent.log'), line('today'));
      writeFileSync(join(logs, 'agent.20261119T023000Z.log'), line('3 days old'));
      const eightDays = line('8 days old').repeat(200);
      writeFileSync(join(logs, 'agent.20261114T023000Z.log'), eightDays);
      writeFileSync(join(logs, 'agent.20261113T023000Z.log.gz'), 'already gz');
      writeFileSync(join(logs, 'agent.20260823T023000Z.log.gz'), 'ninety-one days');
      writeFileSync(join(logs, 'agent.20260801T023000Z.log'), line('113 days old'));
      writeFileSync(join(logs, 'notes.txt'), 'not a log');
      let reopened = 0;
      const r = await rotateLogs({
        logsDir: logs,
        compressAfterDays: 7,
        deleteAfterDays: 90,
        now: new Date('2026-11-22T02:30:00Z'),
        reopen: () => reopened++,
        pace: { chunkBytes: 4096, pauseMs: 0 },
      });
      assert.deepEqual(r.rotated, ['agent.20261122T023000Z.log']);
      assert.equal(reopened, 1, 'the logger reopens its file once after the rename');
      assert.deepEqual(r.compressed, ['agent.20261114T023000Z.log']);
      assert.deepEqual(r.deleted.sort(), [
        'agent.20260801T023000Z.log',
        'agent.20260823T023000Z.log.gz',
      ]);
      assert.ok(r.bytesFreed > 0);
      assert.deepEqual(readdirSync(logs).sort(), [
        'agent.20261113T023000Z.log.gz',
        'agent.20261114T023000Z.log.gz',
        'agent.20261119T023000Z.log',
        'agent.20261122T023000Z.log',
        'notes.txt',
      ]);
      assert.equal(
        gunzipSync(readFileSync(join(logs, 'agent.20261114T023000Z.log.gz'))).toString(),
        eightDays,
      );
      assert.equal(
        existsSync(join(logs, 'agent.log')),
        false,
        'renamed: the logger recreates it on reopen',
      );

      // Without a reopen hook the active log is copied and truncated in place.
      writeFileSync(join(logs, 'other.log'), line('x'));
      const r2 = await rotateLogs({
        logsDir: logs,
        compressAfterDays: 7,
        deleteAfterDays: 90,
        now: new Date('2026-11-23T02:30:00Z'),
        pace: { chunkBytes: 4096, pauseMs: 0 },
      });
      assert.deepEqual(r2.rotated, ['other.20261123T023000Z.log']);
      assert.equal(readFileSync(join(logs, 'other.log'), 'utf8'), '');
    } finally {
      dir.cleanup();
    }
  },
);

test(
  'scheduled: jobs fire on their cron schedule after the random delay',
  { timeout: 30_000 },
  async () => {
    const dir = tmpDir();
    writeFileSync(join(dir.path, 'gateway.yaml'), GOOD);
    const published: MaintenanceReport[] = [];
    const never = '0 0 1 1 *';
    const m = new Maintenance({
      dataDir: dir.path,
      configPath: join(dir.path, 'gateway.yaml'),
      config: validateConfig({
        maintenance: {
          pauseMs: 0,
          randomDelaySeconds: 1,
          schedules: {
            fullBackup: never,
            diffBackup: never,
            logRotation: never,
            outboxCompaction: '* * * * * *',
            integrityCheck: never,
          },
        },
      }).maintenance,
      random: () => 0.5,
      hooks: {
        publishReport: (r) => void published.push(r),
        compactOutbox: async () => ({ bytesFreed: 123 }),
      },
    });
    try {
      const t0 = Date.now();
      m.start();
      while (!published.length && Date.now() - t0 < 10_000)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(published[0]?.job, 'outboxCompaction');
      assert.equal(published[0]!.steps[0]!.bytes, 123);
      // Cron second boundary (≤ 1 s) + the 0.5 s random delay.
      assert.ok(
        Date.parse(published[0]!.startedAt) - t0 >= 500,
        `started ${Date.parse(published[0]!.startedAt) - t0} ms after start()`,
      );
    } finally {
      await m.stop();
      dir.cleanup();
    }
  },
);
