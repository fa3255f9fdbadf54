// The monitoring files users copy (docs/monitoring/): promtool accepts and unit-tests the alert rules,
// and a real Prometheus scraping the running agent fires WmsGatewayPlcDown when the PLC is stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT } from '../helpers/cli.js';
import { freePort, waitForPort } from '../helpers/ports.js';
import { waitForAsync } from '../helpers/wait.js';
import { onTeardown, startGateway } from '../helpers/gateway-fixture.js';

const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool';
const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const MONITORING = join(ROOT, 'docs', 'monitoring');
const RULES = join(MONITORING, 'wms-gateway-rules.yml');
const skipTool = (bin: string) =>
  existsSync(bin) ? false : `${bin} is missing (apt-get install prometheus)`;

test(
  'promtool: the shipped rules are valid and their unit tests pass',
  { skip: skipTool(PROMTOOL) },
  () => {
    const check = spawnSync(PROMTOOL, ['check', 'rules', RULES], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /SUCCESS: \d+ rules found/);
    const unit = spawnSync(PROMTOOL, ['test', 'rules', 'wms-gateway-rules.test.yml'], {
      cwd: MONITORING,
      encoding: 'utf8',
    });
    assert.equal(unit.status, 0, unit.stdout + unit.stderr);
  },
);

test('the Grafana dashboard queries only series the agent exposes', () => {
  const dash = JSON.parse(readFileSync(join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  assert.ok(exprs.length >= 8, 'the dashboard has panels with queries');
  const names = new Set(exprs.flatMap((e) => e.match(/\bwmsgw_[a-z0-9_]+/g) ?? []));
  const rules = readFileSync(RULES, 'utf8');
  const metricsSrc = readFileSync(join(ROOT, 'agent', 'metrics', 'metrics.ts'), 'utf8');
  for (const n of [...names, ...(rules.match(/\bwmsgw_[a-z0-9_]+/g) ?? [])]) {
    // Histograms expose _bucket/_sum/_count; default process metrics come from prom-client.
    const base = n.replace(/_(bucket|sum|count)$/, '').replace(/^wmsgw_/, '');
    const known = metricsSrc.includes(`\${p}${base}\``) || /^(nodejs|process)_/.test(base);
    assert.ok(known, `${n} is not a metric of agent/metrics/metrics.ts`);
  }
});

// Waits below poll Prometheus's own HTTP API; bounded by the test timeout and each waitFor deadline.
async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url} -> ${res.status}`);
  return (await res.json()) as T;
}

interface AlertsAnswer {
  data: { alerts: { labels: Record<string, string>; state: string }[] };
}

test(
  'a real Prometheus scraping the running agent fires WmsGatewayPlcDown when the PLC stops',
  { timeout: 120_000, skip: skipTool(PROMETHEUS) },
  async (t) => {
    const gw = await startGateway(t, {
      id: 'gw-prom',
      sims: 1,
      plcIds: ['line-1'],
      plc: { timeoutMs: 300, intervalMs: 200 },
      collect: false,
      http: true,
    });
    const [sim] = gw.sims;
    const dir = { path: gw.dir };
    const httpPort = gw.httpPort;
    const started: ChildProcess[] = [];
    onTeardown(t, () => started.forEach((p) => p.kill('SIGKILL')));

    // The shipped rules as they are, but for the `for:` hold times (minutes in production; promtool's
    // unit tests above check those): a short hold keeps the test inside a minute.
    const rules = parse(readFileSync(RULES, 'utf8')) as {
      groups: { rules: { for?: string }[] }[];
    };
    for (const g of rules.groups) for (const r of g.rules) if (r.for) r.for = '2s';
    writeFileSync(join(dir.path, 'rules.yml'), stringify(rules));
    writeFileSync(
      join(dir.path, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: [join(dir.path, 'rules.yml')],
        scrape_configs: [
          { job_name: 'wms-gateway', static_configs: [{ targets: [`127.0.0.1:${httpPort}`] }] },
        ],
      }),
    );
    const promPort = await freePort();
    const prom = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir.path, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir.path, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    );
    started.push(prom);
    await waitForPort(promPort, '127.0.0.1', 30_000);
    const api = `http://127.0.0.1:${promPort}/api/v1`;

    // Healthy first: the PLC series is 1 and no PLC-down alert is pending or firing.
    const plcUp = async () => {
      const q = await getJson<{ data: { result: { value: [number, string] }[] } }>(
        `${api}/query?query=${encodeURIComponent('wmsgw_plc_connected{plc="line-1"}')}`,
      );
      return q.data.result[0]?.value[1];
    };
    await waitForAsync(async () => (await plcUp()) === '1', 60_000, 'plc_connected=1 scraped', 250);
    const before = await getJson<AlertsAnswer>(`${api}/alerts`);
    assert.ok(
      !before.data.alerts.some((a) => a.labels.alertname === 'WmsGatewayPlcDown'),
      'no PLC-down alert while the PLC answers',
    );

    await sim!.close();
    let alerts: AlertsAnswer['data']['alerts'] = [];
    await waitForAsync(
      async () => {
        alerts = (await getJson<AlertsAnswer>(`${api}/alerts`)).data.alerts;
        return alerts.some(
          (a) =>
            a.labels.alertname === 'WmsGatewayPlcDown' &&
            a.labels.plc === 'line-1' &&
            a.labels.gateway === 'gw-prom' &&
            a.state === 'firing',
        );
      },
      60_000,
      'WmsGatewayPlcDown firing for line-1',
      250,
    );
    // The WMS link is up, so its alert must not fire along with it.
    assert.ok(!alerts.some((a) => a.labels.alertname === 'WmsGatewayWmsLinkDown'));
  },
);
