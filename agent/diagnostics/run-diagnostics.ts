// The health suite behind `wms-gateway diagnose`: every check runs (in parallel where independent),
// a failing one never stops the others, and each non-ok result carries a recommendation.
import { validateConfig } from '../config/validate.js';
import { loadConfig, resolveDataDir, type Env } from '../config/load.js';
import { isConfigError, formatIssues } from '../../platform/config-error.js';
import type { GatewayConfig } from '../config/schema.js';
import { hostname } from 'node:os';
import { timed, verdictOf, type DiagCheck, type Verdict } from './check.js';
import { resourceChecks } from './resource-checks.js';
import { plcCheck } from './plc-check.js';
import { brokerCheck, type BrokerCheckResult } from './broker-check.js';
import { clockCheck, outboxCheck, slotsCheck, logErrorsCheck } from './local-checks.js';

export const BROKER_TIMEOUT_MS = 5000;
export const TIME_URL_TIMEOUT_MS = 3000;

export interface DiagnoseOptions {
  configPath?: string | undefined;
  dataDir?: string | undefined;
  env?: Env;
  /** An HTTP(S) URL whose Date header is the clock reference. */
  timeUrl?: string | undefined;
  brokerTimeoutMs?: number;
}

export interface DiagnoseReport {
  status: Verdict;
  exitCode: 0 | 1 | 2;
  ts: string;
  gateway: { tenant: string; id: string; dataDir: string; config: string };
  checks: DiagCheck[];
}

async function httpDate(url: string): Promise<Date | undefined> {
  try {
    const res = await fetch(url, {
      method: 'HEAD',
      signal: AbortSignal.timeout(TIME_URL_TIMEOUT_MS),
    });
    const d = res.headers.get('date');
    return d ? new Date(d) : undefined;
  } catch {
    return undefined;
  }
}

export async function runDiagnostics(o: DiagnoseOptions = {}): Promise<DiagnoseReport> {
  const env = o.env ?? process.env;
  const checks: DiagCheck[] = [];
  let config: GatewayConfig;
  let tenant = env.WMS_TENANT ?? 'demo';
  let gatewayId = env.GATEWAY_ID ?? hostname();
  let dataDir = resolveDataDir({ dataDir: o.dataDir, env });
  let source = 'defaults';
  try {
    const r = loadConfig({ configPath: o.configPath, dataDir: o.dataDir, env });
    ({ config, tenant, gatewayId, dataDir, source } = r);
    checks.push({
      name: 'config',
      status: 'ok',
      message: `valid (${r.source}; ${config.plcs.length} PLCs)`,
    });
  } catch (e) {
    if (!isConfigError(e)) throw e;
    checks.push({
      name: 'config',
      status: 'critical',
      message: `${e.source}: ${formatIssues(e.issues).split('\n').join('; ')}`,
      recommendation:
        'Fix the config (`wms-gateway config check FILE` lists every error), or restore the last good one with `wms-gateway backup restore <id>`.',
    });
    config = validateConfig({});
  }
  const brokerTimeout = o.brokerTimeoutMs ?? BROKER_TIMEOUT_MS;
  const brokerResults: BrokerCheckResult[] = [];
  const groups = await Promise.all([
    timed(
      'resources',
      () => resourceChecks(dataDir, config.health),
      'Check that /proc and $DATA_DIR are readable.',
    ),
    ...config.plcs.map((p) =>
      timed(`plc.${p.id}`, () => plcCheck(p), 'Check plcs[].transport in the config.'),
    ),
    ...(config.wms.urls.length
      ? config.wms.urls.map((u) =>
          timed(
            `broker.${u}`,
            async () => {
              const r = await brokerCheck(u, config.wms, gatewayId, brokerTimeout);
              brokerResults.push(r);
              return r.checks;
            },
            'Check wms.urls and wms.tls.',
          ),
        )
      : [
          Promise.resolve<DiagCheck[]>([
            {
              name: 'broker',
              status: 'skipped',
              message: 'no wms.urls: `run` starts the embedded broker',
            },
          ]),
        ]),
    timed(
      'outbox',
      () => outboxCheck(dataDir, config.wms.outbox.maxBytes, config.health.outboxFill),
      'Check $DATA_DIR/outbox is readable.',
    ),
    timed('slots', () => slotsCheck(dataDir), 'Check $DATA_DIR/ota is readable.'),
    timed('logs', () => logErrorsCheck(dataDir), 'Check $DATA_DIR/logs is readable.'),
  ]);
  const refTime = o.timeUrl ? await httpDate(o.timeUrl) : undefined;
  const validFrom = brokerResults.find((r) => r.peerValidity)?.peerValidity?.from;
  checks.push(
    clockCheck(
      new Date(),
      refTime
        ? { source: `the Date of ${o.timeUrl}`, time: refTime }
        : validFrom
          ? { source: 'broker certificate', validFrom }
          : undefined,
    ),
  );
  checks.push(...groups.flat());
  const order = (n: string) =>
    ['config', 'resources', 'clock', 'plc', 'broker', 'outbox', 'slots', 'logs'].findIndex(
      (p) => n === p || n.startsWith(`${p}.`),
    );
  checks.sort((a, b) => order(a.name) - order(b.name));
  return {
    ...verdictOf(checks),
    ts: new Date().toISOString(),
    gateway: { tenant, id: gatewayId, dataDir, config: source },
    checks,
  };
}

const MARK: Record<DiagCheck['status'], string> = {
  ok: '[ OK ]',
  warning: '[WARN]',
  critical: '[FAIL]',
  skipped: '[SKIP]',
};

export function formatReport(r: DiagnoseReport): string {
  const lines = [`wms-gateway diagnose — ${r.gateway.tenant}/${r.gateway.id} — ${r.ts}`, ''];
  for (const c of r.checks) {
    lines.push(`${MARK[c.status]} ${c.name}: ${c.message}`);
    if (c.recommendation) lines.push(`       → ${c.recommendation}`);
  }
  const bad = r.checks.filter((c) => c.status === 'warning' || c.status === 'critical').length;
  lines.push(
    '',
    `${r.status.toUpperCase()} (${bad} problem${bad === 1 ? '' : 's'}; exit ${r.exitCode})`,
  );
  return lines.join('\n') + '\n';
}
