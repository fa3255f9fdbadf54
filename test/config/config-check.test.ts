// `wms-gateway config check` and config loading: every error names its path; env vars win over the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { loadConfig } from '../../agent/config/load.js';
import { isConfigError } from '../../platform/config-error.js';
import { validateConfig } from '../../agent/config/validate.js';

const GOOD = `
gateway: { tenant: acme, id: gw-01 }
wms:
  urls: [mqtts://wms-a:8883, mqtts://wms-b:8883]
  outbox: { maxBytes: 512MiB, policy: reject-new }
plcs:
  - id: conveyor-1
    transport: { type: tcp, host: 10.0.0.5, port: 502 }
    unitId: 1
    groups:
      - intervalMs: 100
        tags:
          - { name: speed,   area: holding, address: 0,  type: float32, byteOrder: CDAB, scale: 0.1, deadband: 0.5 }
          - { name: count,   area: holding, address: 2,  type: uint32,  byteOrder: ABCD }
          - { name: temp,    area: input,   address: 10, type: int16 }
          - { name: running, area: coil,    address: 0,  type: bool, writable: true }
          - { name: target,  area: holding, address: 20, type: int16, writable: true, min: 0, max: 1500 }
          - { name: label,   area: holding, address: 30, type: string, length: 8 }
          - { name: alarm,   area: holding, address: 40, type: bit, bit: 3 }
  - id: sorter-1
    transport: { type: rtu, path: /dev/ttyUSB0, baudRate: 19200, parity: even }
    unitId: 2
    groups: [{ intervalMs: 500, tags: [{ name: pos, area: holding, address: 0, type: int64, byteOrder: DCBA }] }]
`;

test('config check: the contract example is valid (exit 0)', async () => {
  const dir = tmpDir();
  try {
    const f = join(dir.path, 'good.yaml');
    writeFileSync(f, GOOD);
    const r = await runCli(['config', 'check', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid \(2 PLCs, 8 tags\)/);
  } finally {
    dir.cleanup();
  }
});

test('config check: each error of a bad config is printed with its path, exit 2', async () => {
  const dir = tmpDir();
  try {
    const f = join(dir.path, 'bad.yaml');
    writeFileSync(
      f,
      `
plcs:
  - id: p1
    transport: { type: tcp }
    groups:
      - intervalMs: 100
        tags:
          - { name: a, area: holding, address: 0, type: int17 }
          - { name: b, area: holding, address: 1, type: float32, byteOrder: XYZW }
  - id: p2
    transport: { type: tcp, host: h }
    groups:
      - intervalMs: 100
        tags:
          - { name: far, area: holding, address: 65535, type: float32 }
          - { name: w1, area: holding, address: 10, type: int32, writable: true }
          - { name: w2, area: holding, address: 11, type: int16, writable: true }
          - { name: ro, area: input, address: 20, type: int16, writable: true }
`,
    );
    const r = await runCli(['config', 'check', f]);
    assert.equal(r.code, 2);
    const err = r.stderr;
    assert.match(err, /plcs\.0\.transport\.host: is required/);
    assert.match(err, /plcs\.0\.groups\.0\.tags\.0\.type: .*int16/);
    assert.match(err, /plcs\.0\.groups\.0\.tags\.1\.byteOrder: .*ABCD/);
    assert.match(err, /plcs\.1\.groups\.0\.tags\.0\.address: tag ends at 65536/);
    assert.match(
      err,
      /plcs\.1\.groups\.0\.tags\.2\.address: writable tag "w2" overlaps writable tag "w1"/,
    );
    assert.match(err, /plcs\.1\.groups\.0\.tags\.3\.writable: input is a read-only area/);
  } finally {
    dir.cleanup();
  }
});

test('config check: unreadable file, non-YAML and unknown fields are clear errors', async () => {
  const dir = tmpDir();
  try {
    const missing = await runCli(['config', 'check', join(dir.path, 'nope.yaml')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*nope\.yaml: ENOENT/);
    const f = join(dir.path, 'x.yaml');
    writeFileSync(f, 'plcs: [\n  {');
    const bad = await runCli(['config', 'check', f]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not valid YAML\/JSON/);
    writeFileSync(f, 'wms: { urlz: [] }\nplcs: []\n');
    const unknown = await runCli(['config', 'check', f]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /wms\.urlz: unknown field/);
  } finally {
    dir.cleanup();
  }
});

test('rules per type: bool only in bit areas, bit/length required, RTU bus consistency', () => {
  const plc = (tags: unknown[], extra: object = {}) => ({
    id: 'p',
    transport: { type: 'tcp', host: 'h' },
    groups: [{ intervalMs: 100, tags }],
    ...extra,
  });
  const issues = (doc: unknown) => {
    try {
      validateConfig(doc);
      return [];
    } catch (e) {
      assert.ok(isConfigError(e));
      return e.issues.map((i) => `${i.path}: ${i.message}`);
    }
  };
  assert.deepEqual(
    issues({ plcs: [plc([{ name: 'x', area: 'coil', address: 0, type: 'int16' }])] }),
    ['plcs.0.groups.0.tags.0.type: must be bool in the coil area (got int16)'],
  );
  assert.match(
    issues({ plcs: [plc([{ name: 'x', area: 'holding', address: 0, type: 'bool' }])] })[0]!,
    /use type bit/,
  );
  assert.match(
    issues({ plcs: [plc([{ name: 'x', area: 'holding', address: 0, type: 'bit' }])] })[0]!,
    /bit: is required/,
  );
  assert.match(
    issues({ plcs: [plc([{ name: 'x', area: 'holding', address: 0, type: 'string' }])] })[0]!,
    /length: is required/,
  );
  assert.match(
    issues({
      plcs: [
        plc([
          { name: 'x', area: 'holding', address: 0, type: 'int16' },
          { name: 'x', area: 'holding', address: 1, type: 'int16' },
        ]),
      ],
    })[0]!,
    /tags\.1\.name: duplicate tag name "x"/,
  );
  const rtu = (id: string, unitId: number, baudRate = 19200) => ({
    id,
    unitId,
    transport: { type: 'rtu', path: '/dev/ttyS0', baudRate },
    groups: [
      { intervalMs: 100, tags: [{ name: 't', area: 'holding', address: 0, type: 'int16' }] },
    ],
  });
  assert.deepEqual(issues({ plcs: [rtu('a', 1), rtu('b', 2)] }), []);
  assert.match(
    issues({ plcs: [rtu('a', 1), rtu('b', 1)] })[0]!,
    /plcs\.1\.unitId: unit id 1 is already used on bus/,
  );
  assert.match(
    issues({ plcs: [rtu('a', 1), rtu('b', 2, 9600)] })[0]!,
    /plcs\.1\.transport: serial settings differ/,
  );
  // Two writable bits of one register do not overlap.
  assert.deepEqual(
    issues({
      plcs: [
        plc([
          { name: 'b0', area: 'holding', address: 5, type: 'bit', bit: 0, writable: true },
          { name: 'b1', area: 'holding', address: 5, type: 'bit', bit: 1, writable: true },
        ]),
      ],
    }),
    [],
  );
});

test('loading: env vars win over the file; GATEWAY_CONFIG_YAML replaces the file', () => {
  const dir = tmpDir();
  try {
    const f = join(dir.path, 'gateway.yaml');
    writeFileSync(
      f,
      'gateway: { tenant: filetenant, id: file-gw }\nwms: { urls: [mqtt://file:1883] }\n',
    );
    const rc = loadConfig({
      dataDir: dir.path,
      env: {
        WMS_TENANT: 'envtenant',
        WMS_MQTT_URL: 'mqtt://a:1883, mqtts://b:8883',
        HTTP_PORT: '9090',
      },
    });
    assert.equal(rc.tenant, 'envtenant');
    assert.equal(rc.gatewayId, 'file-gw');
    assert.deepEqual(rc.config.wms.urls, ['mqtt://a:1883', 'mqtts://b:8883']);
    assert.equal(rc.httpPort, 9090);
    assert.equal(rc.source, f);
    const inline = loadConfig({
      dataDir: dir.path,
      env: { GATEWAY_CONFIG_YAML: 'gateway: { id: inline-gw }' },
    });
    assert.equal(inline.gatewayId, 'inline-gw');
    assert.equal(inline.source, 'GATEWAY_CONFIG_YAML');
    const balena = loadConfig({
      dataDir: dir.path,
      env: {
        BALENA_DEVICE_UUID: 'abc123',
        BALENA_SUPERVISOR_ADDRESS: 'http://127.0.0.1:48484',
        GATEWAY_CONFIG_YAML: '{}',
      },
    });
    assert.equal(balena.gatewayId, 'abc123');
    assert.equal(balena.httpPort, 80);
    assert.throws(
      () => loadConfig({ dataDir: dir.path, env: { HTTP_PORT: 'eighty' } }),
      (e) => isConfigError(e) && e.issues[0]!.path === 'http.port',
    );
    assert.throws(
      () =>
        loadConfig({ dataDir: dir.path, env: { GATEWAY_CONFIG: join(dir.path, 'missing.yaml') } }),
      (e) => isConfigError(e) && /file not found/.test(e.message),
    );
  } finally {
    dir.cleanup();
  }
});

test('docs/configuration.md reference is generated from the schema and up to date', async () => {
  const { readFileSync } = await import('node:fs');
  const { renderConfigReference } = await import('../../agent/config/reference.js');
  const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  assert.ok(
    doc.includes(renderConfigReference()),
    'docs/configuration.md is stale: run `npm run docs:config`',
  );
});
