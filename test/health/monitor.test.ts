// Health monitor: thresholds with hysteresis (no flapping), one alert per rise, the state from resource
// and component checks, and a real sample of this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { HealthMonitor } from '../../agent/health/monitor.js';
import { HysteresisLevel } from '../../agent/health/hysteresis.js';
import { validateConfig } from '../../agent/config/validate.js';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpDir } from '../helpers/tmp.js';
import { systemMetrics } from '../../agent/link/system-metrics.js';
import type { GatewaySnapshot, GatewayView } from '../../agent/health/gateway-view.js';

test('a level rises above its threshold and clears only the hysteresis margin below it', () => {
  const l = new HysteresisLevel({ warn: 80, critical: 95 }, 5);
  const seq = [70, 80, 81, 79, 76, 80.5, 75.9, 74, 96, 93, 91, 89.9, 60].map((v) => l.update(v));
  assert.deepEqual(seq, [
    'ok',
    'ok',
    'warning',
    'warning',
    'warning',
    'warning',
    'warning',
    'ok',
    'critical',
    'critical',
    'critical',
    'warning',
    'ok',
  ]);
});

test('a value hovering at a threshold raises one alert, not one per sample', () => {
  const alerts: Array<[string, string]> = [];
  const m = new HealthMonitor({
    dataDir: '/',
    config: validateConfig({ health: { cpu: { warn: 80, critical: 95 }, hysteresis: 5 } }).health,
    alert: (level, code) => alerts.push([level, code]),
  });
  const base = { memPct: 10, memTotalBytes: 1, diskPct: 10, diskFreeBytes: 1, eventLoopLagMs: 1 };
  const states = [79, 81, 79, 81, 78, 82, 79, 96, 94, 96, 70].map(
    (cpuPct) => m.evaluate({ ...base, cpuPct }).state,
  );
  assert.deepEqual(states, [
    'ok',
    'degraded',
    'degraded',
    'degraded',
    'degraded',
    'degraded',
    'degraded',
    'failing',
    'failing',
    'failing',
    'ok',
  ]);
  assert.deepEqual(alerts, [
    ['warning', 'health.cpu'],
    ['critical', 'health.cpu'],
  ]);
});

test('components from the gateway view: a PLC down degrades, a full outbox fails', () => {
  const snap: GatewaySnapshot = {
    gateway: { tenant: 't', id: 'g', version: '1', uptimeS: 1 },
    plcs: [
      { id: 'a', state: 'connected', values: {}, quality: {} },
      { id: 'b', state: 'disconnected', error: 'ETIMEDOUT', values: {}, quality: {} },
    ],
    wms: { connected: true, reconnects: 0 },
    outbox: { messages: 1, bytes: 10, dropped: 0, maxBytes: 100 },
    ota: null,
    alerts: [],
    maintenance: [],
  };
  const view = Object.assign(new EventEmitter(), { snapshot: () => snap }) as GatewayView;
  const alerts: string[] = [];
  const m = new HealthMonitor({
    dataDir: '/',
    config: validateConfig({}).health,
    view,
    alert: (level, code, message) => alerts.push(`${level} ${code} ${message}`),
  });
  const sample = {
    cpuPct: 1,
    memPct: 1,
    memTotalBytes: 1,
    diskPct: 1,
    diskFreeBytes: 1,
    eventLoopLagMs: 1,
  };
  let r = m.evaluate(sample);
  assert.equal(r.state, 'degraded');
  assert.deepEqual(
    r.checks.filter((c) => c.level !== 'ok').map((c) => c.name),
    ['plc:b'],
  );
  assert.deepEqual(alerts, ['warning health.plc.b plc:b: disconnected: ETIMEDOUT']);
  snap.plcs[1]!.state = 'connected';
  snap.outbox.bytes = 95;
  r = m.evaluate(sample);
  assert.equal(r.state, 'failing');
  assert.equal(r.checks.find((c) => c.name === 'outbox')?.level, 'critical');
  snap.wms.connected = false;
  snap.outbox.bytes = 10;
  r = m.evaluate(sample);
  assert.equal(r.state, 'degraded');
  assert.deepEqual(
    r.checks.filter((c) => c.level !== 'ok').map((c) => c.name),
    ['wms'],
  );
});

test(
  'a real sample of this machine (no child process) and the event loop delay',
  { timeout: 30_000 },
  async () => {
    const dir = tmpDir();
    // Sampling runs beside the poll loop: it must not fork (spawnSync blocks the event loop).
    const cp = createRequire(import.meta.url)('node:child_process') as Record<string, unknown>;
    const names = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'];
    const saved = names.map((n) => cp[n]);
    const spawned: string[] = [];
    for (const n of names)
      cp[n] = (...args: unknown[]) => {
        spawned.push(`${n} ${String(args[0])}`);
        throw new Error(`${n} called while sampling`);
      };
    syncBuiltinESMExports();
    try {
      const m = new HealthMonitor({ dataDir: dir.path, config: validateConfig({}).health });
      m.start();
      const r = await m.check();
      m.stop();
      const hb = await systemMetrics(dir.path);
      assert.deepEqual(spawned, [], 'no child process');
      assert.ok(typeof hb.cpu === 'number' && typeof hb.mem === 'number', JSON.stringify(hb));
      const checks = r.checks.map((c) => c.name);
      for (const n of ['cpu', 'memory', 'disk', 'eventLoopLagMs'])
        assert.ok(checks.includes(n), `${n} in ${checks.join(',')}`);
      assert.ok(r.resources!.memTotalBytes > 0);
      assert.ok(r.resources!.diskPct > 0 && r.resources!.diskPct <= 100);
      assert.ok(['ok', 'degraded', 'failing'].includes(r.state));
    } finally {
      names.forEach((n, i) => (cp[n] = saved[i]));
      syncBuiltinESMExports();
      dir.cleanup();
    }
  },
);
