// An alert raised just before the process exits (the watchdog's escalation) and not acknowledged by
// the broker is kept in $DATA_DIR/alerts-pending.jsonl; the running agent sends it at its next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { spawnCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { collect } from '../link/collector.js';
import {
  pendingAlertsPath,
  savePendingAlert,
  takePendingAlerts,
} from '../../agent/runtime/pending-alerts.js';

test('pending alerts survive on disk; a torn last line is skipped', () => {
  const dir = tmpDir();
  try {
    const a = { ts: new Date().toISOString(), level: 'critical' as const, code: 'x', message: 'm' };
    savePendingAlert(dir.path, a);
    appendFileSync(pendingAlertsPath(dir.path), '{"ts":"2026-'); // a crash mid-write
    assert.deepEqual(takePendingAlerts(dir.path), [a]);
    assert.ok(!existsSync(pendingAlertsPath(dir.path)), 'handed over once');
    assert.deepEqual(takePendingAlerts(dir.path), []);
  } finally {
    dir.cleanup();
  }
});

test(
  'the running agent sends an escalation alert left by the previous run at its start',
  { timeout: 90_000 },
  async (t) => {
    const broker = await startMosquitto();
    const dir = tmpDir();
    const dataDir = join(dir.path, 'data');
    mkdirSync(dataDir, { recursive: true });
    const cfg = join(dir.path, 'gateway.yaml');
    writeFileSync(
      cfg,
      stringify({
        gateway: { tenant: 'acme', id: 'gw-esc' },
        wms: { urls: [broker.url], heartbeatSeconds: 3600 },
      }),
    );
    savePendingAlert(dataDir, {
      ts: new Date().toISOString(),
      level: 'critical',
      code: 'watchdog.escalated',
      message: 'wms: 3 restarts within 60 s without recovery; restarting the agent',
    });
    const sub = await collect(broker.url, 'wms/acme/gw-esc/alerts');
    const agent = spawnCli(['run', '--config', cfg, '--data-dir', dataDir], {
      env: { HTTP_PORT: '0' },
    });
    t.after(async () => {
      agent.kill('SIGKILL');
      await sub.close();
      await broker.stop();
      dir.cleanup();
    });
    await waitFor(
      () =>
        sub.messages.some((m) => JSON.parse(m.payload.toString()).code === 'watchdog.escalated'),
      60_000,
      'the escalation alert on alerts',
    );
    const a = sub.messages
      .map((m) => JSON.parse(m.payload.toString()) as { code: string; message: string })
      .find((m) => m.code === 'watchdog.escalated')!;
    assert.match(a.message, /raised before a restart/);
    assert.ok(!existsSync(pendingAlertsPath(dataDir)));
  },
);
