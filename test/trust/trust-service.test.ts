// The trust service and authority in-process, with real files: expiry alerts (30 and 7 days, then
// expired), an expired policy failing closed for its keys while local keys keep working, roots after a
// restart (rotated ones stay; a changed local file wins: recovery), env roots, and OTA manifests checked
// for role ota and the target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { validateConfig } from '../../agent/config/validate.js';
import { applyEnv } from '../../agent/config/load.js';
import { AuditLog } from '../../agent/audit/audit-log.js';
import { createLogger } from '../../platform/logger.js';
import { TrustService } from '../../agent/trust/trust-service.js';
import { isSignatureError } from '../../platform/signature/errors.js';
import { verifyManifest, generateSigningKey } from '../../ota/bundle/signing.js';
import { readManifestJws } from '../../ota/bundle/bundle-file.js';
import { isOtaRefusal } from '../../ota/errors.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeSigner } from '../commands/signer.js';
import { kit, packFull, writeAgent } from '../ota/ota-fixtures.js';
import { delegate, makeRoot, policy } from './trust-fixtures.js';

const logger = createLogger({ level: 'silent' });
const DAY = 86_400;

async function setup(
  t: { after(fn: () => unknown): void },
  doc: Record<string, unknown>,
  dataDir?: string,
) {
  const dir = tmpDir('wmsgw-trust-svc-');
  const data = dataDir ?? dir.path;
  let nowMs = Date.now();
  const alerts: { level: string; code: string; message: string }[] = [];
  const audit = await AuditLog.open(join(data, 'audit'), { maxBytes: 1 << 20, files: 2 });
  const svc = await TrustService.create({
    config: validateConfig(doc),
    dataDir: data,
    link: {
      publishRetained: () => undefined,
      alert: (level, code, message) => alerts.push({ level, code, message }),
    },
    audit,
    logger,
    now: () => nowMs,
  });
  t.after(async () => {
    svc.stop();
    await audit.close();
    dir.cleanup();
  });
  return {
    svc,
    alerts,
    data,
    advance: (s: number) => (nowMs += s * 1000),
    nowS: () => nowMs / 1000,
  };
}

function refusedWith(fn: () => unknown, reason: string): void {
  assert.throws(fn, (e: unknown) => isSignatureError(e) && e.reason === reason);
}

test('alerts 30 and 7 days before the policy or a key expires, then expired fails closed', async (t) => {
  const root = await makeRoot('root-1');
  const local = await makeSigner('ES256', 'local-1');
  const wms = await makeSigner('ES256', 'wms-1');
  const { svc, alerts, advance, nowS } = await setup(t, {
    commands: { keys: [local.publicJwk] },
    trust: { roots: [root.publicJwk] },
  });
  const now = Math.floor(nowS());
  const st = await svc.handle(
    await policy(
      {
        version: 1,
        iat: now,
        exp: now + 40 * DAY,
        keys: [delegate(wms, ['commands'], { exp: now + 20 * DAY })],
      },
      root,
    ),
  );
  assert.equal(st.status, 'applied', JSON.stringify(st));
  // The key is within 30 days at once: one warning for it, none for the policy (40 days).
  assert.deepEqual(
    alerts.map((a) => [a.level, a.code, a.message.split(' expires')[0]]),
    [['warning', 'trust.expiring', 'delegated key wms-1']],
  );
  advance(14 * DAY); // key 6 days left, policy 26 days left
  (svc as unknown as { checkExpiry(): void }).checkExpiry();
  assert.deepEqual(
    alerts.slice(1).map((a) => [a.level, a.code]),
    [
      ['warning', 'trust.expiring'],
      ['critical', 'trust.expiring'],
    ],
  );
  (svc as unknown as { checkExpiry(): void }).checkExpiry();
  assert.equal(alerts.length, 3, 'each step is raised once');
  assert.equal(svc.authority.authorize('wms-1', 'commands', { nowSeconds: nowS() }).kid, 'wms-1');
  advance(7 * DAY); // key expired
  refusedWith(
    () => svc.authority.authorize('wms-1', 'commands', { nowSeconds: nowS() }),
    'key-expired',
  );
  advance(20 * DAY); // policy expired: its keys fail closed; the local key keeps working
  refusedWith(
    () => svc.authority.authorize('wms-1', 'commands', { nowSeconds: nowS() }),
    'policy-expired',
  );
  assert.equal(
    svc.authority.authorize('local-1', 'commands', { nowSeconds: nowS() }).source,
    'local',
  );
  assert.equal(
    svc.authority.authorize('local-1', 'config', { nowSeconds: nowS() }).source,
    'local',
  );
  (svc as unknown as { checkExpiry(): void }).checkExpiry();
  assert.ok(alerts.some((a) => a.code === 'trust.expired' && a.level === 'critical'));
});

test('roots after a restart: a rotation stays; a changed local file wins (recovery)', async (t) => {
  const [r1, r2, r3] = [await makeRoot('r1'), await makeRoot('r2'), await makeRoot('r3')];
  const doc = { trust: { roots: [r1.publicJwk] } };
  const first = await setup(t, doc);
  const rotated = await first.svc.handle(await policy({ version: 1, roots: [r2.publicJwk] }, r1));
  assert.deepEqual(rotated.roots, ['r2']);
  first.svc.stop();
  // Same local file: the rotated roots are in force after a restart, r1 is refused.
  const again = await setup(t, doc, first.data);
  assert.deepEqual(again.svc.state.roots, ['r2']);
  assert.equal(again.svc.state.version, 1);
  const byOld = await again.svc.handle(await policy({ version: 2 }, r1));
  assert.match(String(byOld.error), /^unknown-key/);
  again.svc.stop();
  // r2 lost: the operator puts r3 in the local file. It is in force; the policy's version floor stays.
  const recovered = await setup(t, { trust: { roots: [r3.publicJwk] } }, first.data);
  assert.deepEqual(recovered.svc.state.roots, ['r3']);
  assert.match(
    String((await recovered.svc.handle(await policy({ version: 2 }, r2))).error),
    /^unknown-key/,
  );
  assert.equal((await recovered.svc.handle(await policy({ version: 2 }, r3))).status, 'applied');
});

test('GATEWAY_TRUST_ROOTS (a JSON array of JWKs) sets the roots; a bad one names trust.roots', async () => {
  const r = await makeRoot('env-root');
  const cfg = validateConfig(applyEnv({}, { GATEWAY_TRUST_ROOTS: JSON.stringify([r.publicJwk]) }));
  assert.equal(cfg.trust.roots[0]?.kid, 'env-root');
  assert.throws(
    () => validateConfig(applyEnv({}, { GATEWAY_TRUST_ROOTS: 'not json' })),
    /trust\.roots/,
  );
});

test('OTA manifests: role ota and the target within targets', { timeout: 60_000 }, async (t) => {
  const root = await makeRoot('root-1');
  const { svc, data } = await setup(t, { trust: { roots: [root.publicJwk] } });
  const k = await kit();
  const mapOnly = await generateSigningKey('EdDSA', 'ota-map');
  const notOta = await generateSigningKey('EdDSA', 'cmd-only');
  const agentKey = await generateSigningKey('ES256', 'ota-agent');
  const entry = (kp: typeof mapOnly, roles: string[], extra = {}) => ({
    kid: kp.publicJwk.kid,
    jwk: kp.publicJwk,
    roles,
    ...extra,
  });
  const st = await svc.handle(
    await policy(
      {
        version: 1,
        keys: [
          entry(mapOnly, ['ota'], { targets: ['plc-map'] }),
          entry(notOta, ['commands']),
          entry(agentKey, ['ota'], { targets: ['agent'] }),
        ],
      },
      root,
    ),
  );
  assert.equal(st.status, 'applied', JSON.stringify(st));
  const src = writeAgent(join(data, 'src'), '2.0.0', 'healthy');
  const manifestBy = async (priv: typeof mapOnly.privateJwk, n: number) => {
    const out = join(data, `b${n}.bundle`);
    await packFull(src, k.opts({ privateJwk: priv }), out);
    return readManifestJws(out);
  };
  const check = (jws: string) =>
    verifyManifest(jws, {
      keys: svc.authority.resolverFor('ota'),
      authorize: (kid, target) => void svc.authority.authorize(kid, 'ota', { scope: target }),
    });
  const refused = async (p: Promise<unknown>, reason: string) =>
    assert.rejects(p, (e: unknown) => isOtaRefusal(e) && e.reason === reason);
  assert.equal((await check(await manifestBy(agentKey.privateJwk, 1))).target, 'agent');
  await refused(check(await manifestBy(mapOnly.privateJwk, 2)), 'out-of-scope');
  await refused(check(await manifestBy(notOta.privateJwk, 3)), 'wrong-role');
  await refused(check(await manifestBy(root.privateJwk, 4)), 'unknown-key'); // roots never sign OTA
});
