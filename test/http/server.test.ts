// The HTTP face: /health (200/503 with checks), /metrics parsed by a real Prometheus text parser,
// /api/state, server-sent events, write endpoints behind the bearer token, 404/405/413, security headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { tmpDir } from '../helpers/tmp.js';
import { startHttpServer } from '../../agent/http/server.js';
import { createMetrics } from '../../agent/metrics/metrics.js';
import { HealthMonitor } from '../../agent/health/monitor.js';
import { validateConfig } from '../../agent/config/validate.js';
import { DrivenView } from './view-stub.js';
import { waitFor } from '../helpers/wait.js';

type Family = {
  name: string;
  help: string;
  type: string;
  metrics: Array<{
    labels?: Record<string, string>;
    value?: string;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }>;
};

async function setup() {
  const dir = tmpDir();
  const view = new DrivenView();
  const metrics = createMetrics({ defaultLabels: { gateway: 'gw-01' } });
  const health = new HealthMonitor({
    dataDir: dir.path,
    config: validateConfig({}).health,
    view,
    sample: async () => ({
      cpuPct: 12,
      memPct: 40,
      memTotalBytes: 1e9,
      diskPct: 30,
      diskFreeBytes: 1e10,
    }),
  });
  await health.check();
  const ran: string[] = [];
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    view,
    metrics,
    health,
    tokenPath: join(dir.path, 'http-token'),
    actions: {
      runMaintenance: async (job) => (ran.push(job), { job, problems: [] }),
      backup: async (kind) => (ran.push(`backup:${kind}`), { id: `x-${kind}` }),
    },
  });
  const base = `http://127.0.0.1:${server.port}`;
  return {
    dir,
    view,
    metrics,
    health,
    server,
    base,
    ran,
    token: readFileSync(join(dir.path, 'http-token'), 'utf8').trim(),
  };
}

test(
  '/health answers 200 while degraded and 503 when failing, with the checks',
  { timeout: 20_000 },
  async () => {
    const s = await setup();
    try {
      let res = await fetch(`${s.base}/health`);
      let body = (await res.json()) as {
        status: string;
        checks: Array<{ name: string; level: string }>;
      };
      // press-2 is disconnected: degraded, still serving.
      assert.equal(res.status, 200);
      assert.equal(body.status, 'degraded');
      assert.deepEqual(body.checks.find((c) => c.name === 'plc:press-2')?.level, 'warning');
      assert.equal((await fetch(`${s.base}/health?strict`)).status, 503);
      // The disk fills up: failing.
      s.view.state.plcs[1]!.state = 'connected';
      await s.health.evaluate({
        cpuPct: 12,
        memPct: 40,
        memTotalBytes: 1e9,
        diskPct: 99,
        diskFreeBytes: 1e6,
        eventLoopLagMs: 1,
      });
      res = await fetch(`${s.base}/health`);
      body = (await res.json()) as typeof body;
      assert.equal(res.status, 503);
      assert.equal(body.status, 'failing');
      assert.equal(body.checks.find((c) => c.name === 'disk')?.level, 'critical');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
    } finally {
      await s.server.close();
      s.dir.cleanup();
    }
  },
);

test(
  '/metrics is valid Prometheus text with the gateway instruments',
  { timeout: 20_000 },
  async () => {
    const s = await setup();
    try {
      s.metrics.pollDuration.observe({ plc: 'conveyor-1' }, 0.012);
      s.metrics.pollDuration.observe({ plc: 'conveyor-1' }, 0.3);
      s.metrics.pollErrors.inc({ plc: 'press-2', kind: 'timeout' }, 3);
      s.metrics.tagValuesRead.inc({ plc: 'conveyor-1' }, 42);
      s.metrics.messagesPublished.inc({ kind: 'data' }, 7);
      s.metrics.reconnects.inc({ link: 'wms' });
      s.metrics.commandLatency.observe({ op: 'write', status: 'ok' }, 0.04);
      s.metrics.setOtaPhase('probation');
      const res = await fetch(`${s.base}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const families = parsePrometheusTextFormat(await res.text()) as Family[];
      const fam = (n: string) => {
        const f = families.find((x) => x.name === n);
        assert.ok(f, `${n} missing; have ${families.map((x) => x.name).join(', ')}`);
        return f;
      };
      const hist = fam('wmsgw_poll_duration_seconds');
      assert.equal(hist.type, 'HISTOGRAM');
      // This parser folds a labelled histogram into its buckets (labels dropped): check the buckets here,
      // the labels on the counters below.
      assert.equal(hist.metrics[0]!.buckets?.['0.025'], '1');
      assert.equal(hist.metrics[0]!.buckets?.['+Inf'], '2');
      assert.equal(fam('wmsgw_poll_errors_total').metrics[0]!.value, '3');
      assert.deepEqual(fam('wmsgw_poll_errors_total').metrics[0]!.labels, {
        gateway: 'gw-01',
        plc: 'press-2',
        kind: 'timeout',
      });
      assert.equal(fam('wmsgw_tag_values_read_total').metrics[0]!.value, '42');
      assert.equal(fam('wmsgw_messages_published_total').metrics[0]!.value, '7');
      assert.equal(fam('wmsgw_reconnects_total').metrics[0]!.value, '1');
      assert.equal(fam('wmsgw_command_latency_seconds').type, 'HISTOGRAM');
      // Gauges refreshed from the view at scrape time.
      assert.equal(fam('wmsgw_outbox_messages').metrics[0]!.value, '12');
      assert.equal(fam('wmsgw_outbox_bytes').metrics[0]!.value, '4096');
      assert.equal(fam('wmsgw_wms_connected').metrics[0]!.value, '1');
      const plcUp = Object.fromEntries(
        fam('wmsgw_plc_connected').metrics.map((m) => [m.labels!.plc, m.value]),
      );
      assert.deepEqual(plcUp, { 'conveyor-1': '1', 'press-2': '0' });
      assert.equal(fam('wmsgw_health_state').metrics[0]!.value, '1');
      const ota = Object.fromEntries(
        fam('wmsgw_ota_phase').metrics.map((m) => [m.labels!.phase, m.value]),
      );
      assert.equal(ota.probation, '1');
      assert.equal(ota.idle, '0');
      // Process metrics of this registry.
      fam('wmsgw_process_resident_memory_bytes');
      fam('wmsgw_nodejs_eventloop_lag_seconds');
    } finally {
      await s.server.close();
      s.dir.cleanup();
    }
  },
);

test(
  'writes need the bearer token of $DATA_DIR/http-token; reads do not',
  { timeout: 20_000 },
  async () => {
    const s = await setup();
    try {
      assert.equal(statSync(join(s.dir.path, 'http-token')).mode & 0o777, 0o600);
      assert.ok(s.token.length >= 32);
      const post = (path: string, body: unknown, token?: string) =>
        fetch(`${s.base}${path}`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: JSON.stringify(body),
        });
      let res = await post('/api/maintenance/run', { job: 'integrityCheck' });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      res = await post(
        '/api/maintenance/run',
        { job: 'integrityCheck' },
        'x'.repeat(s.token.length),
      );
      assert.equal(res.status, 401);
      assert.deepEqual(s.ran, []);
      res = await post('/api/maintenance/run', { job: 'integrityCheck' }, s.token);
      assert.equal(res.status, 200);
      res = await post('/api/backup', { kind: 'diff' }, s.token);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { id: 'x-diff' });
      res = await post('/api/backup', { kind: 'everything' }, s.token);
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: string }).error, /^kind: /);
      assert.deepEqual(s.ran, ['integrityCheck', 'backup:diff']);
      // Hostile input: a huge body, a non-JSON body, unknown paths and methods.
      res = await post('/api/backup', { kind: 'full', pad: 'x'.repeat(100_000) }, s.token);
      assert.equal(res.status, 413);
      res = await fetch(`${s.base}/api/backup`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.token}` },
        body: '{nope',
      });
      assert.equal(res.status, 400);
      assert.equal((await fetch(`${s.base}/nope`)).status, 404);
      res = await fetch(`${s.base}/api/state`, { method: 'DELETE' });
      assert.equal(res.status, 405);
      assert.equal(res.headers.get('allow'), 'GET');
      // The token file survives restarts: the same token is read again.
      const again = await startHttpServer({
        host: '127.0.0.1',
        port: 0,
        view: s.view,
        tokenPath: join(s.dir.path, 'http-token'),
      });
      await again.close();
      assert.equal(readFileSync(join(s.dir.path, 'http-token'), 'utf8').trim(), s.token);
    } finally {
      await s.server.close();
      s.dir.cleanup();
    }
  },
);

test(
  '/api/state and /api/events: the snapshot, then live values coalesced per PLC',
  { timeout: 20_000 },
  async () => {
    const s = await setup();
    try {
      const state = (await (await fetch(`${s.base}/api/state`)).json()) as {
        plcs: unknown[];
        health: { state: string };
      };
      assert.equal(state.plcs.length, 2);
      assert.equal(state.health.state, 'degraded');
      const events: Array<{ event: string; data: unknown }> = [];
      const req = request(`${s.base}/api/events`);
      const done = new Promise<void>((resolve) => {
        req.on('response', (res) => {
          assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
          let buf = '';
          res.on('data', (d: Buffer) => {
            buf += d.toString();
            let i;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const ev = /^event: (.*)$/m.exec(block)?.[1];
              const data = /^data: (.*)$/m.exec(block)?.[1];
              if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
              if (events.some((e) => e.event === 'alert')) resolve();
            }
          });
        });
      });
      // No dashboard client: nobody listens to the values, so the core does no work for them.
      assert.equal(s.view.listenerCount('values'), 0);
      req.end();
      await waitFor(() => events.length >= 1, 3000);
      assert.equal(events[0]!.event, 'state');
      assert.equal(s.view.listenerCount('values'), 1, 'one listener while a client is attached');
      for (let i = 0; i < 20; i++)
        s.view.values({
          plc: 'conveyor-1',
          ts: new Date().toISOString(),
          values: { count: 100 + i },
        });
      await waitFor(() => events.some((e) => e.event === 'values'), 3000);
      const vals = events.filter((e) => e.event === 'values');
      // 20 reads within one flush window arrive as the latest one.
      assert.ok(vals.length <= 2, `${vals.length} value events`);
      assert.deepEqual((vals.at(-1)!.data as { values: unknown }).values, { count: 119 });
      s.view.emit('alert', {
        ts: new Date().toISOString(),
        level: 'critical',
        code: 'x',
        message: 'y',
      });
      await done;
      req.destroy();
      await waitFor(() => s.view.listenerCount('values') === 0, 3000, 'values unsubscribed');
    } finally {
      await s.server.close();
      s.dir.cleanup();
    }
  },
);
