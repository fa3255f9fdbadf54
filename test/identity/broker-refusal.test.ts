// The broker refuses the renewed certificate: the WMS issued it from a CA that identity.issuerCa trusts but
// the broker (mosquitto, require_certificate, TLS 1.3) does not. The gateway tries it, is refused, goes back
// to the old pair with a critical alert and cert/state error broker-refused, and keeps its data flowing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { wmsSchema } from '../../agent/config/schema.js';
import { identitySchema } from '../../agent/identity/config-schema.js';
import { createLogger } from '../../platform/logger.js';
import { WmsLink, type Alert } from '../../agent/link/wms-link.js';
import { IdentityManager, type CertState } from '../../agent/identity/identity-manager.js';
import { mutualTls, startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { collect, gapsAndDisorder } from '../link/collector.js';
import { certFor, csrPublicKey, makeIdentityPki } from './identity-fixtures.js';

const PASS = 'broker-refusal-pass';

test(
  'a renewed certificate the broker refuses: old pair back, alert, no data lost',
  { timeout: 90_000 },
  async (t) => {
    const dir = tmpDir('idbroker-');
    const pki = await makeIdentityPki(dir.path);
    // 300 s lifetime, 195 s gone: renewal (at two thirds) falls due ~5 s after start.
    const dev = await pki.device('gw-b', { cn: 'gw-b', lifetimeS: 300, backdateS: 195 });
    // The issuer bundle trusts both CAs; the broker only the first.
    const issuerBundle = join(dir.path, 'issuers.pem');
    writeFileSync(issuerBundle, readFileSync(pki.ca, 'utf8') + readFileSync(pki.otherCa, 'utf8'));
    const broker = await startMosquitto({ tls: mutualTls(pki) });
    const data = tmpDir('idbroker-data-');
    const logger = createLogger({ level: process.env.TEST_LOG ?? 'silent' });
    const tls = { ca: pki.ca, cert: dev.cert, key: dev.key };
    const link = new WmsLink({
      tenant: 't1',
      gatewayId: 'gw-b',
      dataDir: data.path,
      version: '1.0.0',
      wms: wmsSchema.parse({ urls: [broker.url], tls, reconnect: { minMs: 100, maxMs: 500 } }),
      logger,
      keyPassphrase: PASS,
    });
    const alerts: Alert[] = [];
    link.on('alert', (a: Alert) => alerts.push(a));
    const manager = new IdentityManager({
      link,
      config: identitySchema.parse({ issuerCa: issuerBundle, retryMinSeconds: 60 }),
      tls: { ...tls, expiryWarningDays: 1, expiryCriticalDays: 0 },
      gatewayId: 'gw-b',
      dataDir: data.path,
      passphrase: PASS,
      logger,
      verifyRenew: () => Promise.reject(new Error('not used')),
    });
    const tlsOpts = {
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
    };
    const sub = await collect(broker.url, 'wms/t1/gw-b/#', { ...tlsOpts, clientId: 'refusal-sub' });
    const wms = await mqtt.connectAsync(broker.url, { ...tlsOpts, clientId: 'refusal-wms' });
    const timers: { seq?: NodeJS.Timeout } = {};
    t.after(async () => {
      clearInterval(timers.seq);
      await manager.stop();
      await link.stop();
      await sub.close();
      await wms.endAsync();
      await broker.stop();
      data.cleanup();
      dir.cleanup();
    });
    const states = () =>
      sub.messages
        .filter((m) => m.topic === 'wms/t1/gw-b/cert/state')
        .map((m) => JSON.parse(m.payload.toString()) as CertState);
    const last = () => states()[states().length - 1];
    await link.start();
    await manager.start();
    await waitFor(() => link.stats().connected, 15_000, 'link up on the initial pair');
    await waitFor(() => last()?.status === 'ok', 10_000, 'cert/state ok');
    const initialSerial = last()!.serial;
    // Data all along, so a gap across the switch and back would show.
    timers.seq = setInterval(
      () =>
        link.publishData('plc-a', { ts: new Date().toISOString(), values: { v: 1 }, quality: {} }),
      50,
    );

    // The renewal falls due by itself; the WMS answers from the CA the broker does not trust.
    const csrs = () => sub.messages.filter((m) => m.topic === 'wms/t1/gw-b/cert/csr');
    await waitFor(() => csrs().length > 0, 20_000, 'cert/csr');
    const csr = JSON.parse(csrs()[0]!.payload.toString()) as { id: string; csr: string };
    const now = Date.now();
    const cert = await certFor(csrPublicKey(csr.csr), {
      ca: pki.otherCaPair,
      cn: 'gw-b',
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3600_000),
    });
    await wms.publishAsync('wms/t1/gw-b/cert/issued', JSON.stringify({ id: csr.id, cert }), {
      qos: 1,
    });

    await waitFor(
      () => alerts.some((a) => a.code === 'identity.cert-refused-by-broker'),
      30_000,
      `the broker-refused alert; alerts ${JSON.stringify(alerts.map((a) => a.code + ' ' + a.message))} states ${JSON.stringify(states())}`,
    );
    const alert = alerts.find((a) => a.code === 'identity.cert-refused-by-broker')!;
    assert.equal(alert.level, 'critical');
    await waitFor(() => link.stats().connected, 15_000, 'connected again on the old pair');
    await waitFor(
      () => last()?.error === 'broker-refused' && last()?.serial === initialSerial,
      10_000,
      'cert/state: old serial back, error broker-refused',
    );
    assert.equal(last()!.phase, 'idle');
    const active = JSON.parse(readFileSync(join(data.path, 'identity', 'active.json'), 'utf8'));
    assert.equal(active.current, null, 'the operator pair is in force again on disk');

    const seqs = () => sub.seqs.get('plc-a') ?? [];
    const atBack = Math.max(...seqs());
    await waitFor(() => Math.max(...seqs()) >= atBack + 10, 15_000, 'data after going back');
    clearInterval(timers.seq);
    assert.deepEqual(gapsAndDisorder(seqs(), seqs()[0]), [], 'no gap across the refused switch');
  },
);
