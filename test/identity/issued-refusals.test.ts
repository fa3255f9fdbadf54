// Hostile answers to a renewal, over a real mosquitto: a cert/issued for another key, another gateway, an
// expired one, one from another CA, garbage and huge PEM, an unknown id, no pending CSR, the current
// certificate replayed; and cert/renew unsigned or signed by a stranger. Each is refused with its reason
// on cert/state while the identity in force and the pending CSR stay as they were; a good answer then
// still goes through.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { wmsSchema } from '../../agent/config/schema.js';
import { identitySchema } from '../../agent/identity/config-schema.js';
import { createLogger } from '../../platform/logger.js';
import { WmsLink, type Alert } from '../../agent/link/wms-link.js';
import { IdentityManager, type CertState } from '../../agent/identity/identity-manager.js';
import { KeyRing } from '../../platform/signature/key-ring.js';
import { verifyCompactJws } from '../../platform/signature/verify-jws.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { makeSigner, nowSec, type Signer } from '../commands/signer.js';
import { certFor, csrPublicKey, makeIdentityPki, type IdentityPki } from './identity-fixtures.js';

const PASS = 'refusal-test-passphrase-7f3a';
let dir: ReturnType<typeof tmpDir>;
let pki: IdentityPki;
let broker: Broker;
let wmsKey: Signer;
let stranger: Signer;

before(async () => {
  dir = tmpDir('idref-');
  pki = await makeIdentityPki(dir.path);
  broker = await startMosquitto();
  wmsKey = await makeSigner('ES256', 'wms-1');
  stranger = await makeSigner('ES256', 'wms-1'); // same kid, other key: a forged signature
});
after(async () => {
  await broker.stop();
  dir.cleanup();
});

test(
  'bad cert/issued and cert/renew are refused with a reason; identity untouched; a good answer still works',
  { timeout: 60_000 },
  async () => {
    const dev = await pki.device('gw1-initial', { cn: 'gw1', lifetimeS: 30 * 86_400 });
    const data = tmpDir('idref-data-');
    const logger = createLogger({ level: 'silent' });
    const link = new WmsLink({
      tenant: 't1',
      gatewayId: 'gw1',
      dataDir: data.path,
      version: '1.0.0',
      wms: wmsSchema.parse({
        urls: [broker.url],
        tls: { ca: pki.ca, cert: dev.cert, key: dev.key },
        reconnect: { minMs: 100, maxMs: 1000 },
      }),
      logger,
    });
    const alerts: Alert[] = [];
    link.on('alert', (a: Alert) => alerts.push(a));
    const keys = await KeyRing.load([wmsKey.publicJwk as Record<string, unknown>]);
    const manager = new IdentityManager({
      link,
      config: identitySchema.parse({ retryMinSeconds: 30 }),
      tls: {
        ca: pki.ca,
        cert: dev.cert,
        key: dev.key,
        expiryWarningDays: 1,
        expiryCriticalDays: 0,
      },
      gatewayId: 'gw1',
      dataDir: data.path,
      passphrase: PASS,
      logger,
      verifyRenew: async (jws) => {
        const v = await verifyCompactJws(jws, keys);
        return { kid: v.kid, payload: v.payload };
      },
    });
    const wms = await mqtt.connectAsync(broker.url, { clientId: 'wms-side', protocolVersion: 5 });
    const states: CertState[] = [];
    const csrs: { id: string; csr: string; reason: string; current: { serial: string } }[] = [];
    wms.on('message', (topic, payload) => {
      if (topic.endsWith('/cert/state')) states.push(JSON.parse(payload.toString()) as CertState);
      if (topic.endsWith('/cert/csr'))
        csrs.push(JSON.parse(payload.toString()) as (typeof csrs)[0]);
    });
    await wms.subscribeAsync('wms/t1/gw1/cert/#', { qos: 1 });
    const last = () => states[states.length - 1];
    const send = (sub: string, body: string | object) =>
      wms.publishAsync(
        `wms/t1/gw1/${sub}`,
        typeof body === 'string' ? body : JSON.stringify(body),
        {
          qos: 1,
        },
      );
    const expectRefusal = async (reason: string, what: string) => {
      await waitFor(() => last()?.error === reason, 10_000, `cert/state error ${reason} (${what})`);
      assert.equal(last()!.serial, initialSerial, `${what}: serial unchanged`);
      assert.equal(
        existsSync(join(data.path, 'identity', 'active.json')),
        false,
        `${what}: no switch`,
      );
      states.length = 0;
    };
    let initialSerial = '';
    try {
      await link.start();
      await manager.start();
      await waitFor(() => link.stats().connected, 10_000, 'link up');
      await waitFor(() => last()?.status === 'ok', 10_000, 'cert/state ok');
      initialSerial = last()!.serial;
      assert.equal(last()!.subject, 'CN=gw1');

      // No CSR is waiting yet.
      await send('cert/issued', { id: 'x', cert: dev.certPem });
      await expectRefusal('no-pending-csr', 'answer with no pending CSR');

      // cert/renew: garbage, a forged signature, an expired request; then a good one.
      await send('cert/renew', 'not a jws');
      await expectRefusal('malformed', 'cert/renew not a JWS');
      const claims = { id: 'r1', iat: nowSec(), exp: nowSec() + 300 };
      await send('cert/renew', await stranger.sign(claims));
      await expectRefusal('bad-signature', 'cert/renew forged');
      await send(
        'cert/renew',
        await wmsKey.sign({ id: 'r0', iat: nowSec() - 900, exp: nowSec() - 600 }),
      );
      await expectRefusal('expired', 'cert/renew expired');
      await send('cert/renew', await wmsKey.sign(claims));
      await waitFor(() => csrs.length === 1, 10_000, 'a CSR after a signed cert/renew');
      const csr = csrs[0]!;
      assert.equal(csr.reason, 'requested');
      assert.equal(csr.current.serial, initialSerial);
      await waitFor(() => last()?.status === 'renewing', 5000, 'status renewing');
      states.length = 0;
      await send('cert/renew', await wmsKey.sign(claims));
      await expectRefusal('replayed', 'cert/renew replayed');
      const pendingBefore = readFileSync(join(data.path, 'identity', 'pending.json'), 'utf8');

      const now = Date.now();
      const valid = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 3600_000) };
      const pub = csrPublicKey(csr.csr);
      const other = await pki.device('stranger', { cn: 'gw1', lifetimeS: 3600 });
      const cases: [string, string, object | string][] = [
        ['another key', 'key-mismatch', { id: csr.id, cert: other.certPem }],
        [
          'another gateway',
          'wrong-subject',
          { id: csr.id, cert: await certFor(pub, { ca: pki.caPair, cn: 'gw2', ...valid }) },
        ],
        [
          'expired',
          'expired',
          {
            id: csr.id,
            cert: await certFor(pub, {
              ca: pki.caPair,
              cn: 'gw1',
              notBefore: new Date(now - 7200_000),
              notAfter: new Date(now - 3600_000),
            }),
          },
        ],
        [
          'not from the CA',
          'untrusted',
          { id: csr.id, cert: await certFor(pub, { ca: pki.otherCaPair, cn: 'gw1', ...valid }) },
        ],
        [
          'garbage PEM',
          'bad-certificate',
          {
            id: csr.id,
            cert: '-----BEGIN CERTIFICATE-----\nAAAA!!notbase64\n-----END CERTIFICATE-----\n',
          },
        ],
        ['huge PEM', 'too-large', { id: csr.id, cert: 'A'.repeat(200_000) }],
        ['not JSON', 'malformed', '{"id":'],
        ['unknown id', 'unknown-id', { id: 'someone-else', cert: dev.certPem }],
        ['replayed old certificate', 'replayed', { id: csr.id, cert: dev.certPem }],
      ];
      for (const [what, reason, body] of cases) {
        await send('cert/issued', body);
        await expectRefusal(reason, what);
        assert.equal(
          readFileSync(join(data.path, 'identity', 'pending.json'), 'utf8'),
          pendingBefore,
          `${what}: the pending CSR is kept`,
        );
      }
      assert.ok(link.stats().connected, 'still connected on the initial pair');
      assert.ok(
        alerts.some((a) => a.code === 'identity.cert-refused'),
        'refusals raise identity.cert-refused alerts',
      );

      // A good answer after all that is accepted, the link reconnects with it and confirms it.
      const good = await certFor(pub, { ca: pki.caPair, cn: 'gw1', ...valid });
      await send('cert/issued', { id: csr.id, cert: good });
      await waitFor(
        () =>
          last()?.status === 'ok' && last()!.serial !== initialSerial && last()!.phase === 'idle',
        15_000,
        'renewed cert/state',
      );
      assert.equal(last()!.error, undefined, 'no error after a successful renewal');
      const active = JSON.parse(readFileSync(join(data.path, 'identity', 'active.json'), 'utf8'));
      assert.equal(active.state, 'active');
      const keyText = readFileSync(join(data.path, 'identity', active.current.key), 'utf8');
      assert.match(keyText, /-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      assert.equal(existsSync(join(data.path, 'identity', 'pending.json')), false);
      await waitFor(() => link.stats().connected, 10_000, 'connected with the new pair');
    } finally {
      await manager.stop();
      await link.stop();
      await wms.endAsync();
      data.cleanup();
    }
  },
);
