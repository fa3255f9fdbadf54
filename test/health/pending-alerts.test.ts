// An alert raised just before the process exits (the watchdog's escalation) and not acknowledged by
// the broker is kept in $DATA_DIR/alerts-pending.jsonl; the running agent sends it at its next start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpDir } from '../helpers/tmp.js';
import { startGateway } from '../helpers/gateway-fixture.js';
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
    const gw = await startGateway(t, {
      id: 'gw-esc',
      collect: 'wms/acme/gw-esc/alerts',
      start: false,
    });
    mkdirSync(gw.dataDir, { recursive: true });
    savePendingAlert(gw.dataDir, {
      ts: new Date().toISOString(),
      level: 'critical',
      code: 'watchdog.escalated',
      message: 'wms: 3 restarts within 60 s without recovery; restarting the agent',
    });
    await gw.startAgent();
    const alert = await gw.sub.waitFor(
      (m) => JSON.parse(m.payload.toString()).code === 'watchdog.escalated',
      60_000,
      'the escalation alert on alerts',
    );
    const a = JSON.parse(alert.payload.toString()) as { code: string; message: string };
    assert.match(a.message, /raised before a restart/);
    assert.ok(!existsSync(pendingAlertsPath(gw.dataDir)));
  },
);
