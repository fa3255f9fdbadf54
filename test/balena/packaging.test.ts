// Structure of the balena packaging (no Docker engine on these machines): balena.yml,
// Dockerfile.template and docker-compose.yml hold what CONTRACT.md §2/§5 and docs/fleet.md promise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../helpers/cli.js';
import { resolveConfig, resolveDataDir } from '../../agent/config/load.js';
import { validateConfig } from '../../agent/config/validate.js';

const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');
const pkg = JSON.parse(read('package.json')) as { version: string };

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^(\S+)\s*(.*)$/.exec(l)!;
      return { op: m[1]!.toUpperCase(), args: m[2]! };
    });
}

test('balena.yml: application, version, device types, env defaults of CONTRACT §2', () => {
  const y = parse(read('balena.yml')) as {
    name: string;
    type: string;
    description: string;
    version: string;
    data: {
      defaultDeviceType: string;
      supportedDeviceTypes: string[];
      applicationEnvironmentVariables: Record<string, string>[];
    };
  };
  assert.equal(y.type, 'sw.application');
  assert.equal(y.name, 'wms-gateway');
  assert.ok(y.description.length > 20);
  assert.equal(y.version, pkg.version, 'balena.yml version follows package.json');
  for (const dt of ['generic-amd64', 'generic-aarch64', 'raspberrypi4-64'])
    assert.ok(y.data.supportedDeviceTypes.includes(dt), dt);
  assert.ok(y.data.supportedDeviceTypes.includes(y.data.defaultDeviceType));
  const vars = Object.assign({}, ...y.data.applicationEnvironmentVariables) as Record<
    string,
    string
  >;
  for (const v of Object.values(vars))
    assert.equal(typeof v, 'string', 'balena variables are strings');
  // CONTRACT.md §2 under balena: DATA_DIR /data, WMS_TENANT demo, HTTP_PORT 80, LOG_LEVEL info.
  assert.deepEqual(vars, {
    DATA_DIR: '/data',
    WMS_TENANT: 'demo',
    HTTP_PORT: '80',
    LOG_LEVEL: 'info',
  });
  // ...and they agree with what the agent itself resolves under balena without them.
  const env = { BALENA_DEVICE_UUID: 'abc', BALENA_SUPERVISOR_ADDRESS: 'http://127.0.0.1:48484' };
  const r = resolveConfig(validateConfig({}, 'test'), {
    env,
    dataDir: resolveDataDir({ env }),
    configPath: '',
    source: '',
  });
  assert.equal(r.dataDir, vars.DATA_DIR);
  assert.equal(String(r.httpPort), vars.HTTP_PORT);
  assert.equal(r.tenant, vars.WMS_TENANT);
  // GATEWAY_ID (from the uuid) and WMS_MQTT_URL (embedded broker) are derived, so not pinned above.
});

test('Dockerfile.template: official multi-stage node images, arch, prod deps, launcher, health', () => {
  const text = read('Dockerfile.template');
  const ins = instructions(text);
  const code = ins.map((i) => `${i.op} ${i.args}`).join('\n');
  assert.doesNotMatch(code.toLowerCase(), /balenalib/, 'balenalib images are deprecated');
  const froms = ins.filter((i) => i.op === 'FROM');
  assert.ok(froms.length >= 2, 'multi-stage');
  for (const f of froms)
    assert.match(f.args, /^node:\d+(\.\d+)*-bookworm-slim(\s+AS\s+\w+)?$/i, f.args);
  assert.match(code, /%%BALENA_ARCH%%/);
  const lastFrom = ins.lastIndexOf(froms.at(-1)!);
  const build = ins.slice(0, lastFrom);
  const runtime = ins.slice(lastFrom);
  const runs = (part: typeof ins) =>
    part
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join('\n');
  assert.match(runs(build), /npm ci\b/);
  assert.match(runs(build), /tsc -p tsconfig\.build\.json/);
  assert.match(
    runs(build),
    /npm prune --omit=dev/,
    'only production dependencies reach the runtime',
  );
  assert.doesNotMatch(
    runs(runtime),
    /npm (ci|install)/,
    'nothing installed from npm in the runtime stage',
  );
  assert.match(runs(runtime), /apt-get install[^\n]*\bxdelta3\b/);
  assert.match(runs(runtime), /apt-get install[^\n]*\bzstd\b/);
  const copies = runtime.filter((i) => i.op === 'COPY').map((i) => i.args);
  assert.ok(copies.some((c) => /--from=build\s+\S*node_modules/.test(c)));
  assert.ok(copies.some((c) => /--from=build\s+\S*dist/.test(c)));
  const hc = runtime.find((i) => i.op === 'HEALTHCHECK');
  assert.ok(hc, 'HEALTHCHECK');
  assert.match(hc.args, /http:\/\/127\.0\.0\.1:\$\{HTTP_PORT:-80\}\/health/);
  assert.match(hc.args, /--timeout=\d+s/);
  assert.equal(runtime.find((i) => i.op === 'STOPSIGNAL')?.args, 'SIGTERM');
  const entry = runtime.find((i) => i.op === 'ENTRYPOINT');
  assert.ok(entry);
  const argv = JSON.parse(entry.args) as string[]; // exec form: signals reach the process, not a shell
  assert.deepEqual(argv.slice(-3), ['node', 'dist/ota/launcher/main.js', 'run']);
});

test('docker-compose.yml: service, /data volume, balena labels, host network, serial access', () => {
  const c = parse(read('docker-compose.yml')) as {
    volumes: Record<string, unknown>;
    services: Record<
      string,
      {
        build: unknown;
        volumes: string[];
        labels: Record<string, string>;
        network_mode: string;
        privileged?: boolean;
        devices?: string[];
      }
    >;
  };
  const names = Object.keys(c.services);
  assert.equal(names.length, 1);
  const s = c.services[names[0]!]!;
  assert.ok(s.build);
  const data = s.volumes.find((v) => v.split(':')[1] === '/data');
  assert.ok(data, 'a volume on /data');
  assert.ok(data.split(':')[0]! in c.volumes, 'a named volume');
  assert.equal(s.labels['io.balena.features.supervisor-api'], '1');
  assert.equal(s.labels['io.balena.features.balena-api'], '1');
  assert.equal(s.network_mode, 'host');
  assert.ok(
    s.privileged === true || (s.devices ?? []).some((d) => d.startsWith('/dev/tty')),
    'serial ports for RTU',
  );
});
