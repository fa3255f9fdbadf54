// `wms-gateway diagnose --json`, the real CLI as a child process, against a real TLS mosquitto and a
// real Modbus TCP PLC simulator: healthy (exit 0), degraded (exit 1) and broken (exit 2: PLC down,
// broker down, bad certificate), each problem named with its recommendation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/ports.js';
import { mutualTls, startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startSimulator, type Simulator } from '../../plc/simulator/simulator.js';
import { makePki, type TestPki as Pki } from '../helpers/pki.js';
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encryptKeyPem } from '../../agent/identity/key-file.js';

interface Check {
  name: string;
  status: string;
  message: string;
  recommendation?: string;
}
interface Report {
  status: string;
  exitCode: number;
  checks: Check[];
}

let dir: { path: string; cleanup: () => void };
let pki: Pki;
let broker: Broker;
let sim: Simulator;
/** The client key encrypted at rest (a plaintext key is itself a diagnose warning). */
let clientKeyEnc: string;
const KEY_PASS = 'diag-key-passphrase';

// Resource thresholds off (100 %): the 2-core CI machine is busy with other tests; these tests are about links.
const quietHealth = {
  cpu: { warn: 100, critical: 100 },
  memory: { warn: 100, critical: 100 },
  disk: { warn: 100, critical: 100 },
  temperature: { warn: 150, critical: 150 },
};
const plc = (id: string, port: number) => ({
  id,
  transport: { type: 'tcp', host: '127.0.0.1', port },
  timeoutMs: 3000, // generous: the shared CI machine is busy
  groups: [
    { intervalMs: 1000, tags: [{ name: 'speed', area: 'holding', address: 0, type: 'uint16' }] },
  ],
});

before(async () => {
  dir = tmpDir('diag-');
  pki = makePki(dir.path);
  clientKeyEnc = join(dir.path, 'client-enc.key');
  writeFileSync(
    clientKeyEnc,
    encryptKeyPem(createPrivateKey(readFileSync(pki.clientKey)), KEY_PASS),
    { mode: 0o600 },
  );
  broker = await startMosquitto({ tls: mutualTls(pki) });
  sim = await startSimulator({ port: 0 });
});

after(async () => {
  await broker?.stop();
  await sim?.close();
  dir?.cleanup();
});

async function diagnose(name: string, config: object, prepare?: (dataDir: string) => void) {
  const dataDir = join(dir.path, name);
  mkdirSync(dataDir, { recursive: true });
  prepare?.(dataDir);
  const file = join(dataDir, 'gateway.yaml');
  writeFileSync(file, stringify(config));
  const r = await runCli(['diagnose', '--json', '--config', file, '--data-dir', dataDir], {
    timeoutMs: 60_000,
    env: { WMS_MQTT_URL: '', WMS_CA: '', WMS_CERT: '', WMS_KEY: '', WMS_KEY_PASSPHRASE: KEY_PASS },
  });
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  const byName = (n: string) => {
    const c = report.checks.find((x) => x.name === n);
    assert.ok(c, `no check ${n}: ${report.checks.map((x) => x.name).join(', ')}`);
    return c;
  };
  return { r, report, byName };
}

const healthyConfig = () => ({
  gateway: { tenant: 'acme', id: 'gw-diag' },
  plcs: [plc('line-1', sim.port)],
  wms: { urls: [broker.url], tls: { ca: pki.ca, cert: pki.clientCert, key: clientKeyEnc } },
  health: quietHealth,
});

test('healthy setup: exit 0, every link checked', { timeout: 90_000 }, async () => {
  const { r, report, byName } = await diagnose('healthy', healthyConfig());
  assert.equal(
    r.code,
    0,
    JSON.stringify(
      report.checks.filter((c) => c.status !== 'ok' && c.status !== 'skipped'),
      null,
      2,
    ),
  );
  assert.equal(report.status, 'healthy');
  assert.match(
    byName('plc.line-1').message,
    /^connected to 127\.0\.0\.1:\d+; read speed \(holding 0\)/,
  );
  assert.match(byName(`broker.${broker.url}`).message, /TLS 1\.3 handshake .* verified/);
  assert.match(byName(`broker.${broker.url}.server-certificate`).message, /valid until/);
  assert.match(byName(`broker.${broker.url}.client-certificate`).message, /valid until/);
  assert.equal(byName(`broker.${broker.url}.mqtt`).status, 'ok');
  assert.equal(byName('clock').status, 'ok');
  assert.match(byName('clock').message, /consistent with broker certificate/);
  for (const n of [
    'config',
    'resources.cpu',
    'resources.memory',
    'resources.disk',
    'outbox',
    'slots',
    'logs',
    'identity.key',
    'identity.certificate',
  ])
    assert.equal(byName(n).status, 'ok', n);
  assert.match(byName('identity.key').message, /encrypted/);
  assert.match(byName('identity.certificate').message, /CN=client serial .* expires/);
  assert.ok(
    report.checks.every((c) => c.recommendation === undefined),
    'no advice when all is well',
  );
});

test(
  'degraded: recent log errors and a client certificate close to expiry give exit 1 with advice',
  { timeout: 90_000 },
  async () => {
    const cfg = healthyConfig();
    cfg.wms.tls.cert = pki.clientCertValidFor(10);
    cfg.wms.tls.key = join(dir.path, 'client-10d.key');
    const now = Date.now();
    const { r, report, byName } = await diagnose('degraded', cfg, (dataDir) => {
      mkdirSync(join(dataDir, 'logs'));
      const line = (o: object) =>
        JSON.stringify({ time: now - 60_000, pid: 1, hostname: 'h', name: 'wms-gateway', ...o }) +
        '\n';
      writeFileSync(
        join(dataDir, 'logs', 'agent.log'),
        line({
          level: 50,
          msg: 'poll failed',
          plc: 'line-1',
          err: { type: 'Error', code: 'ETIMEDOUT', message: 'x' },
        }).repeat(3) +
          line({ level: 50, msg: 'publish failed' }) +
          line({ level: 30, msg: 'all good' }) +
          JSON.stringify({ time: now - 3 * 3600_000, level: 50, msg: 'old error' }) +
          '\n',
      );
    });
    assert.equal(r.code, 1, JSON.stringify(report, null, 2));
    assert.equal(report.status, 'degraded');
    const logs = byName('logs');
    assert.equal(logs.status, 'warning');
    assert.match(
      logs.message,
      /^4 errors in the last 60 min: ETIMEDOUT: poll failed ×3; publish failed ×1/,
    );
    assert.match(logs.recommendation!, /wms-gateway logs --level error/);
    const cc = byName(`broker.${broker.url}.client-certificate`);
    assert.equal(cc.status, 'warning');
    assert.match(cc.message, /expires in (9|10) days/);
    assert.match(cc.recommendation!, /new client certificate/);
  },
);

test(
  'broken setup: PLC down, broker down and a bad CA are each named with a recommendation; exit 2',
  { timeout: 90_000 },
  async () => {
    const deadPlc = await freePort();
    const deadBroker = await freePort();
    const deadUrl = `mqtts://127.0.0.1:${deadBroker}`;
    const { r, report, byName } = await diagnose('broken', {
      gateway: { tenant: 'acme', id: 'gw-diag' },
      plcs: [plc('line-1', sim.port), plc('line-2', deadPlc)],
      wms: {
        urls: [broker.url, deadUrl],
        tls: { ca: pki.otherCa, cert: pki.clientCert, key: clientKeyEnc },
      },
      health: quietHealth,
    });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(report.status, 'failing');
    assert.equal(
      byName('plc.line-1').status,
      'ok',
      `the working PLC is still reported as working: ${JSON.stringify(byName('plc.line-1'))}`,
    );
    const p2 = byName('plc.line-2');
    assert.equal(p2.status, 'critical');
    assert.match(
      p2.message,
      new RegExp(`cannot connect to 127\\.0\\.0\\.1:${deadPlc}: ECONNREFUSED`),
    );
    assert.match(p2.recommendation!, /refuses connections.*powered.*Modbus TCP/);
    const bad = byName(`broker.${broker.url}`);
    assert.equal(bad.status, 'critical');
    assert.match(bad.message, /TLS handshake with 127\.0\.0\.1:\d+ failed/);
    assert.match(bad.recommendation!, /wms\.tls\.ca/);
    const down = byName(`broker.${deadUrl}`);
    assert.equal(down.status, 'critical');
    assert.match(down.message, /cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED/);
    assert.match(down.recommendation!, /broker is running/);
    for (const c of report.checks)
      if (c.status === 'critical' || c.status === 'warning')
        assert.ok(c.recommendation, `${c.name} has a recommendation`);

    // The text form says the same to a person.
    const text = await runCli(
      [
        'diagnose',
        '--config',
        join(dir.path, 'broken', 'gateway.yaml'),
        '--data-dir',
        join(dir.path, 'broken'),
      ],
      {
        timeoutMs: 60_000,
        env: {
          WMS_MQTT_URL: '',
          WMS_CA: '',
          WMS_CERT: '',
          WMS_KEY: '',
          WMS_KEY_PASSPHRASE: KEY_PASS,
        },
      },
    );
    assert.equal(text.code, 2);
    assert.match(text.stdout, /\[FAIL\] plc\.line-2: cannot connect/);
    assert.match(text.stdout, /→ The PLC refuses connections/);
    assert.match(text.stdout, /FAILING \(3 problems; exit 2\)/, text.stdout);
  },
);

test(
  'a broken config file is itself a failing check, not a crash',
  { timeout: 60_000 },
  async () => {
    const dataDir = join(dir.path, 'badconfig');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, 'gateway.yaml'), 'plcs: [ { id: "bad id!" } ]\n');
    const r = await runCli(['diagnose', '--json', '--data-dir', dataDir], {
      timeoutMs: 60_000,
      env: { WMS_MQTT_URL: '' },
    });
    assert.equal(r.code, 2);
    const report = JSON.parse(r.stdout) as Report;
    const c = report.checks.find((x) => x.name === 'config')!;
    assert.equal(c.status, 'critical');
    assert.match(c.message, /plcs\.0\.id/);
    assert.match(c.recommendation!, /config check/);
  },
);
