// wms.tls.crl against a real mosquitto (TLS 1.3, mutual TLS): with a CRL of the CA that revokes the
// broker's certificate the link refuses the broker with a typed `revoked` error and one critical alert,
// and keeps retrying; with a CRL that revokes something else it connects as usual.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { wmsSchema } from '../../agent/config/schema.js';
import { createLogger } from '../../platform/logger.js';
import { WmsLink, type Alert } from '../../agent/link/wms-link.js';
import { makeCrl } from '../../agent/identity/issuer.js';
import { mutualTls, startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { makeIdentityPki, type IdentityPki } from '../identity/identity-fixtures.js';

let dir: ReturnType<typeof tmpDir>;
let pki: IdentityPki;
let broker: Broker;
before(async () => {
  dir = tmpDir('crl-');
  pki = await makeIdentityPki(dir.path);
  broker = await startMosquitto({ tls: mutualTls(pki) });
});
after(async () => {
  await broker.stop();
  dir.cleanup();
});

function link(crl: string) {
  const data = tmpDir('crl-data-');
  const failures: { kind: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) {
        const j = JSON.parse(l) as { msg: string; kind: string };
        if (j.msg === 'WMS connection attempt failed') failures.push(j);
      }
      cb();
    },
  });
  const l = new WmsLink({
    tenant: 't1',
    gatewayId: 'gw-crl',
    dataDir: data.path,
    version: '1.0.0',
    wms: wmsSchema.parse({
      urls: [broker.url],
      tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, crl },
      reconnect: { minMs: 100, maxMs: 1000 },
    }),
    logger: createLogger({ level: 'info', destination: sink }),
  });
  const alerts: Alert[] = [];
  l.on('alert', (a: Alert) => alerts.push(a));
  return {
    link: l,
    alerts,
    failures,
    done: async () => {
      await l.stop();
      data.cleanup();
    },
  };
}

test(
  'a revoked broker certificate is refused with a typed error and an alert',
  { timeout: 30_000 },
  async () => {
    const serial = new X509Certificate(readFileSync(pki.serverCert)).serialNumber;
    const crl = join(dir.path, 'revoked.crl');
    writeFileSync(crl, await makeCrl(pki.caPair, [serial]));
    const r = link(crl);
    try {
      await r.link.start();
      await waitFor(() => r.failures.length >= 2, 15_000, 'two refused attempts');
      assert.ok(
        r.failures.every((f) => f.kind === 'tls.revoked'),
        JSON.stringify(r.failures[0]),
      );
      assert.equal(r.link.stats().connected, false);
      const a = r.alerts.filter((x) => x.code === 'wms.tls.revoked');
      assert.equal(a.length, 1, 'one alert, not one per attempt');
      assert.equal(a[0]!.level, 'critical');
    } finally {
      await r.done();
    }
  },
);

test(
  'a CRL that does not list the broker certificate: connects (PEM text accepted)',
  { timeout: 30_000 },
  async () => {
    const r = link(await makeCrl(pki.caPair, ['0123456789ABCDEF']));
    try {
      await r.link.start();
      await waitFor(() => r.link.stats().connected, 15_000, 'connected with a CRL in force');
      assert.deepEqual(r.failures, []);
    } finally {
      await r.done();
    }
  },
);
