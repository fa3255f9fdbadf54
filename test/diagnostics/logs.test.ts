// `wms-gateway logs`: the agent's own log file (written by the real logger), rotated and gzipped by the
// maintenance job, searched by level, time and text across the .gz and the active file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import { createLogger, reopenLogFile } from '../../platform/logger.js';
import { rotateLogs } from '../../agent/maintenance/log-rotation.js';

test(
  'logs finds entries by level, text and time in rotated .gz and active logs',
  { timeout: 60_000 },
  async () => {
    const dir = tmpDir();
    try {
      const logsDir = join(dir.path, 'logs');
      const logger = createLogger({
        level: 'debug',
        file: join(logsDir, 'agent.log'),
        console: false,
      });
      logger.info({ plc: 'line-1' }, 'plc connected');
      logger.error(
        { plc: 'line-1', err: Object.assign(new Error('read timed out'), { code: 'ETIMEDOUT' }) },
        'poll failed',
      );
      logger.warn({ plc: 'line-2' }, 'slow answer');
      // Yesterday's log: rotated, then gzipped (compressAfterDays 0 here).
      const r = await rotateLogs({
        logsDir,
        compressAfterDays: 0,
        deleteAfterDays: 90,
        reopen: () => reopenLogFile(logger),
      });
      assert.equal(r.rotated.length, 1);
      assert.equal(r.compressed.length, 1);
      logger.error({ plc: 'line-2' }, 'poll failed');
      logger.info({ cmd: 'c-1' }, 'command done');
      assert.deepEqual(
        readdirSync(logsDir)
          .map((n) => n.replace(/\d{8}T\d{6}Z/, 'STAMP'))
          .sort(),
        ['agent.STAMP.log.gz', 'agent.log'],
      );

      const logs = (...args: string[]) =>
        runCli(['logs', '--data-dir', dir.path, ...args], { timeoutMs: 30_000 });
      let res = await logs('--grep', 'poll failed');
      assert.equal(res.code, 0, res.stderr);
      let lines = res.stdout.trim().split('\n');
      assert.equal(lines.length, 2, res.stdout);
      assert.match(
        lines[0]!,
        /ERROR poll failed .*"plc":"line-1".*ETIMEDOUT/,
        'from the .gz, oldest first',
      );
      assert.match(lines[1]!, /ERROR poll failed .*"plc":"line-2"/, 'from the active log');

      res = await logs('--level', 'warn');
      lines = res.stdout.trim().split('\n');
      assert.deepEqual(
        lines.map((l) => l.split(' ').slice(1, 2)[0]),
        ['ERROR', 'WARN', 'ERROR'],
      );

      res = await logs('--level', 'info', '--limit', '1', '--json');
      const last = JSON.parse(res.stdout) as { msg: string; cmd: string };
      assert.equal(last.msg, 'command done');
      assert.equal(last.cmd, 'c-1');

      res = await logs('--since', '30m', '--grep', 'PLC CONNECTED');
      assert.equal(res.stdout.trim().split('\n').length, 1, 'case-insensitive text search');
      res = await logs('--since', new Date(Date.now() + 60_000).toISOString());
      assert.equal(res.stdout, '', 'nothing newer than the future');

      res = await logs('--since', 'yesterday-ish');
      assert.equal(res.code, 2);
      assert.match(res.stderr, /--since "yesterday-ish": use an ISO date/);
      res = await logs('--level', 'loud');
      assert.equal(res.code, 2);
      assert.match(res.stderr, /--level "loud"/);
    } finally {
      dir.cleanup();
    }
  },
);
