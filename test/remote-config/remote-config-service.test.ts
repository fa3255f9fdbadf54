// config/set in-process: signed, validated, versioned, applied through the hook, persisted, rolled back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { validateConfig } from '../../agent/config/validate.js';
import type { GatewayConfig } from '../../agent/config/schema.js';
import { AuditLog } from '../../agent/audit/audit-log.js';
import { RemoteConfigService } from '../../agent/remote-config/remote-config-service.js';
import { createLogger } from '../../platform/logger.js';
import { reasonCode } from '../../agent/commands/rejection.js';
import { makeSigner, type Signer } from '../commands/signer.js';
import { tmpDir } from '../helpers/tmp.js';

const logger = createLogger({ level: 'silent' });

function plc(id: string, port = 1502) {
  return {
    id,
    transport: { type: 'tcp', host: '127.0.0.1', port },
    groups: [
      { intervalMs: 100, tags: [{ name: 'a', area: 'holding', address: 0, type: 'int16' }] },
    ],
  };
}

async function setup(
  t: { after(fn: () => unknown): void },
  opts: { failOn?: (c: GatewayConfig) => boolean } = {},
) {
  const dir = tmpDir();
  t.after(dir.cleanup);
  const signer = await makeSigner('ES256', 'cfg');
  const doc = { commands: { keys: [signer.publicJwk], configHistory: 2 }, plcs: [plc('p1')] };
  const applied: GatewayConfig[] = [];
  const published: unknown[] = [];
  const audit = await AuditLog.open(join(dir.path, 'audit'), { maxBytes: 1 << 20, files: 2 });
  t.after(() => audit.close());
  const open = (current: GatewayConfig) =>
    RemoteConfigService.create({
      current,
      dataDir: dir.path,
      apply: async (c) => {
        applied.push(c);
        if (opts.failOn?.(c)) throw new Error('PLC p9 transport could not start');
      },
      link: { publishRetained: (topic, p) => void published.push({ topic, p }) },
      audit,
      logger,
    });
  const svc = await open(validateConfig(doc));
  return { dir: dir.path, signer, doc, svc, applied, published, open };
}

const next = (s: Signer, doc: object) => s.sign(doc);

test(
  'a signed config is applied, persisted with version and sha256, and published',
  { timeout: 10_000 },
  async (t) => {
    const { dir, signer, doc, svc, applied, published } = await setup(t);
    assert.deepEqual((published[0] as { p: { status: string } }).p.status, 'local');
    const st = await svc.handle(
      await next(signer, { ...doc, version: 7, plcs: [plc('p1'), plc('p2')] }),
    );
    assert.equal(st.status, 'applied');
    assert.equal(st.version, 7);
    assert.match(st.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      applied.at(-1)!.plcs.map((p) => p.id),
      ['p1', 'p2'],
    );
    const onDisk = parseYaml(readFileSync(join(dir, 'config', 'applied.yaml'), 'utf8'));
    assert.equal(onDisk.version, undefined, 'claims are not part of the stored config');
    assert.equal(onDisk.plcs.length, 2);
    assert.deepEqual((published.at(-1) as { topic: string }).topic, 'config/state');
    const audit = readFileSync(join(dir, 'audit', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(audit.at(-1).outcome, 'applied');
    assert.equal(audit.at(-1).who, 'cfg');
    assert.deepEqual(audit.at(-1).what.plcsAdded, ['p2']);
    assert.equal(
      await RemoteConfigService.appliedText(dir),
      readFileSync(join(dir, 'config', 'applied.yaml'), 'utf8'),
    );
  },
);

test(
  'older or equal versions are refused; absent version means the next one',
  { timeout: 10_000 },
  async (t) => {
    const { signer, doc, svc } = await setup(t);
    assert.equal((await svc.handle(await next(signer, { ...doc, version: 5 }))).version, 5);
    const stale = await svc.handle(await next(signer, { ...doc, version: 5 }));
    assert.equal(stale.status, 'rejected');
    assert.equal(reasonCode(stale.error!), 'stale-version');
    assert.equal(stale.version, 5);
    assert.equal((await svc.handle(await next(signer, doc))).version, 6);
  },
);

test('refusals name the problem and leave the config in force', { timeout: 10_000 }, async (t) => {
  const { signer, doc, svc, applied } = await setup(t);
  const other = await makeSigner('ES256', 'cfg');
  const cases: [string | Promise<string>, string][] = [
    [other.sign(doc), 'bad-signature'],
    [JSON.stringify(doc), 'unsigned'],
    [signer.sign({ ...doc, plcs: [{ ...plc('p1'), unitId: 999 }] }), 'invalid-config'],
    [signer.sign({ ...doc, bogus: 1 }), 'invalid-config'],
    [
      signer.sign({ ...doc, commands: { keys: [{ kty: 'oct', k: 'AA', kid: 'h' }] } }),
      'invalid-config',
    ],
    [signer.sign({ ...doc, exp: Math.floor(Date.now() / 1000) - 3600 }), 'expired'],
    [signer.sign('plcs: [unclosed'), 'malformed'],
    [signer.sign({ ...doc, version: 'two' }), 'bad-claim'],
    ['x'.repeat(2_000_000), 'too-large'],
  ];
  for (const [payload, code] of cases) {
    const st = await svc.handle(await payload);
    assert.equal(st.status, 'rejected');
    assert.equal(reasonCode(st.error!), code, st.error);
    assert.equal(st.version, 0);
  }
  const invalid = await svc.handle(
    await signer.sign({ ...doc, plcs: [{ ...plc('p1'), unitId: 999 }] }),
  );
  assert.match(invalid.error!, /plcs\.0\.unitId/);
  assert.equal(applied.length, 0);
});

test(
  'a config that fails to apply is rolled back and config/state says why',
  { timeout: 10_000 },
  async (t) => {
    const { dir, signer, doc, svc, applied } = await setup(t, {
      failOn: (c) => c.plcs.some((p) => p.id === 'p9'),
    });
    const st = await svc.handle(
      await signer.sign({ ...doc, version: 3, plcs: [plc('p1'), plc('p9')] }),
    );
    assert.equal(st.status, 'rolled_back');
    assert.match(st.error!, /apply failed: PLC p9 transport could not start/);
    assert.equal(st.version, 0);
    assert.equal(st.attempted?.version, 3);
    assert.deepEqual(
      applied.at(-1)!.plcs.map((p) => p.id),
      ['p1'],
      'the previous config is applied again',
    );
    assert.equal(existsSync(join(dir, 'config', 'applied.yaml')), false);
    // The same version can come again once fixed.
    assert.equal((await svc.handle(await signer.sign({ ...doc, version: 3 }))).status, 'applied');
  },
);

test(
  'history keeps the one in force plus configHistory previous ones; state survives a restart',
  { timeout: 10_000 },
  async (t) => {
    const { dir, signer, doc, svc, open } = await setup(t);
    for (let v = 1; v <= 5; v++)
      await svc.handle(await signer.sign({ ...doc, version: v, http: { host: `127.0.0.${v}` } }));
    assert.equal(readdirSync(join(dir, 'config', 'history')).length, 3);
    const again = await open(svc.config);
    assert.equal(again.configState.version, 5);
    assert.equal(again.configState.status, 'applied');
    const stale = await again.handle(await signer.sign({ ...doc, version: 4 }));
    assert.equal(reasonCode(stale.error!), 'stale-version');
  },
);
