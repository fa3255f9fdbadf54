// Delegated keys beyond commands, through the running agent (`wms-gateway run`) on mutual TLS 1.3 with a
// real mosquitto, `wms-gateway pki serve` as the WMS's CA and two simulators. The only roots are in the
// local file; a policy sent on trust/set delegates an `identity` key, a `commands` key and two `ota`
// keys scoped by `targets`. cert/renew signed by the commands key is refused wrong-role and makes no
// CSR; signed by the identity key it renews the certificate (new serial in force, data still flowing).
// A PLC-map bundle signed by the commands key is refused wrong-role, by the agent-only OTA key
// out-of-scope; signed by the map key it is committed and the new map is polled; once that key is
// revoked, its next bundle is refused revoked-key and the map in force stays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { mutualTls } from '../helpers/mosquitto.js';
import { onTeardown, startGateway } from '../helpers/gateway-fixture.js';
import { makeIdentityPki, startPkiServe, wmsTlsOptions } from '../identity/identity-fixtures.js';
import { makeSigner, nowSec, type Signer } from '../commands/signer.js';
import { tmpDir } from '../helpers/tmp.js';
import { exportJWK, type JWK } from 'jose';
import { delegate, makeRoot, policy } from '../trust/trust-fixtures.js';
import { packFull } from '../../ota/bundle/pack.js';
import { packOptions, plc, serveDir } from './ota-image.js';

type Json = Record<string, unknown>;

/** The private JWK of a test signer (OTA bundles are packed with a JWK). */
async function privateJwkOf(s: Signer): Promise<JWK> {
  return { ...(await exportJWK(s.privateKey)), kid: s.kid };
}

test(
  'delegated identity and OTA keys act only within their roles and targets, through the running agent',
  { timeout: 300_000 },
  async (t) => {
    const pkiDir = tmpDir('trdel-');
    onTeardown(t, pkiDir.cleanup); // first on the stack: removed after everything else stopped
    const pki = await makeIdentityPki(pkiDir.path);
    const dev = await pki.device('gw-d', { cn: 'gw-d', lifetimeS: 30 * 86_400 });
    const root = await makeRoot('root-1');
    const idKey = await makeSigner('ES256', 'id-1');
    const cmdKey = await makeSigner('ES256', 'cmd-1');
    const mapKey = await makeSigner('EdDSA', 'ota-map');
    const agentKey = await makeSigner('EdDSA', 'ota-agent');
    const tlsOpts = wmsTlsOptions(pki);
    const gw = await startGateway(t, {
      id: 'gw-d',
      broker: { tls: mutualTls(pki) },
      sims: 2,
      config: ({ broker, sims }) => ({
        gateway: { tenant: 'acme', id: 'gw-d' },
        wms: {
          urls: [broker!.url],
          tls: { ca: pki.ca, cert: dev.cert, key: dev.key },
          reconnect: { minMs: 100, maxMs: 1000 },
          heartbeatSeconds: 3600,
        },
        trust: { roots: [root.publicJwk] },
        identity: { retryMinSeconds: 2, retryMaxSeconds: 10 },
        ota: { minHealthySeconds: 2, probationGraceSeconds: 30 },
        plcs: [plc('plc-0', sims[0]!.port)],
      }),
      collectOpts: { ...tlsOpts, clientId: 'e2e-trdel' },
      env: { WMS_KEY_PASSPHRASE: 'e2e-trdel-Passphrase-91', LOG_LEVEL: 'info' },
      start: false,
    });
    const { broker, sub, sims, prefix } = gw;
    const signer = startPkiServe(t, pki, broker.url);
    const bundles = join(gw.dir, 'bundles');
    mkdirSync(bundles, { recursive: true });
    const http = await serveDir(bundles);
    onTeardown(t, () => http.close());
    const agent = await gw.startAgent();
    await signer.listening();

    const send = (topic: string, payload: string) =>
      sub.client.publishAsync(prefix + topic, payload, { qos: 1 });
    const mark = () => sub.messages.length;
    const next = async (topic: string, since: number, pred: (j: Json) => boolean, what: string) => {
      const find = () =>
        sub.messages
          .slice(since)
          .filter((m) => m.topic === prefix + topic)
          .map((m) => JSON.parse(m.payload.toString()) as Json)
          .find(pred);
      await gw.until(() => find() !== undefined, 60_000, what);
      return find()!;
    };
    const dataSince = (since: number, plcId: string) =>
      sub.messages.slice(since).some((m) => m.topic === `${prefix}plc/${plcId}/data`);

    // The agent is up on its initial certificate, polling plc-0.
    const first = await next('cert/state', 0, (j) => j.status === 'ok', 'first cert/state');
    await gw.until(() => dataSince(0, 'plc-0'), 60_000, 'data on the initial certificate');

    // The policy, signed by the local root: each key with one role.
    const trustAt = mark();
    await send(
      'trust/set',
      await policy(
        {
          version: 1,
          keys: [
            delegate(idKey, ['identity']),
            delegate(cmdKey, ['commands']),
            delegate(mapKey, ['ota'], { targets: ['plc-map'] }),
            delegate(agentKey, ['ota'], { targets: ['agent'] }),
          ],
        },
        root,
      ),
    );
    const applied = await next('trust/state', trustAt, (j) => j.version === 1, 'policy v1');
    assert.equal(applied.status, 'applied', JSON.stringify(applied));

    // ---- identity: cert/renew by the commands key is refused; by the identity key it renews ----
    const renew = (id: string) => ({ id, iat: nowSec(), exp: nowSec() + 300 });
    let at = mark();
    await send('cert/renew', await cmdKey.sign(renew('r-cmd')));
    const refused = await next('cert/state', at, (j) => j.error !== undefined, 'refusal');
    assert.match(String(refused.error), /wrong-role/, JSON.stringify(refused));
    assert.ok(
      !sub.messages.slice(at).some((m) => m.topic === `${prefix}cert/csr`),
      'no CSR for a key without the identity role',
    );
    at = mark();
    await send('cert/renew', await idKey.sign(renew('r-id')));
    const csr = await next('cert/csr', at, () => true, 'a CSR after cert/renew by id-1');
    assert.equal(csr.reason, 'requested');
    const renewed = await next(
      'cert/state',
      at,
      (j) => j.status === 'ok' && j.serial !== first.serial,
      `the renewed certificate in force (agent: ${agent.output().slice(-1500)})`,
    );
    assert.equal(renewed.subject, 'CN=gw-d');
    at = mark();
    await gw.until(() => dataSince(at, 'plc-0'), 60_000, 'data after the renewal');

    // ---- OTA: a PLC-map bundle, signed by each key in turn ----
    const mapBundle = async (s: Signer, version: string, counter: number, plcId: string) => {
      const dir = join(gw.dir, `map-${version}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'plcs.yaml'), stringify({ plcs: [plc(plcId, sims[1]!.port)] }));
      const file = `map-${version}-${s.kid}.bundle`;
      const o = packOptions(await privateJwkOf(s), {
        name: 'plant-map',
        version,
        counter,
        target: 'plc-map',
        url: http.url(file),
      });
      return (await packFull(dir, o, join(bundles, file))).jws;
    };
    const offer = async (jws: string, what: string, pred: (j: Json) => boolean) => {
      const since = mark();
      await send('ota/offer', jws);
      return next('ota/state', since, pred, what);
    };
    const refusedWith = (j: Json) =>
      (j.error as { reason?: string } | undefined)?.reason !== undefined;
    const reasonOf = (j: Json) => (j.error as { reason?: string }).reason;

    const byCmd = await offer(await mapBundle(cmdKey, '1.0.0', 1, 'line-1'), 'cmd', refusedWith);
    assert.equal(reasonOf(byCmd), 'wrong-role', JSON.stringify(byCmd));
    const byAgent = await offer(
      await mapBundle(agentKey, '1.0.0', 1, 'line-1'),
      'agent key',
      refusedWith,
    );
    assert.equal(reasonOf(byAgent), 'out-of-scope', JSON.stringify(byAgent));
    at = mark();
    const committed = await offer(
      await mapBundle(mapKey, '1.0.0', 1, 'line-1'),
      'map 1.0.0 committed',
      (j) =>
        j.phase === 'Committed' &&
        (j.plcMap as { version?: string } | undefined)?.version === '1.0.0',
    );
    assert.equal(committed.phase, 'Committed');
    await gw.until(() => dataSince(at, 'line-1'), 60_000, 'the new map polled');

    // ---- revoke the map key: its next bundle is refused, the map in force stays ----
    const v2At = mark();
    await send(
      'trust/set',
      await policy(
        { version: 2, keys: [delegate(idKey, ['identity'])], revoked: ['ota-map'] },
        root,
      ),
    );
    const v2 = await next('trust/state', v2At, (j) => j.version === 2, 'policy v2');
    assert.equal(v2.status, 'applied', JSON.stringify(v2));
    const revoked = await offer(
      await mapBundle(mapKey, '2.0.0', 2, 'line-2'),
      'revoked',
      refusedWith,
    );
    assert.equal(reasonOf(revoked), 'revoked-key', JSON.stringify(revoked));
    at = mark();
    await gw.until(() => dataSince(at, 'line-1'), 30_000, 'map 1.0.0 still polled');
    assert.ok(!dataSince(0, 'line-2'), 'the refused map never polled');
    assert.equal(agent.exitCode(), null, 'the agent is still running');
  },
);
