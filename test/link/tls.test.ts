// TLS 1.3 + mutual TLS against a real mosquitto with an openssl-made PKI: the right client certificate
// connects; TLS 1.2-only brokers, a wrong CA, a hostname mismatch and an expired client certificate give a
// clear typed error, an alert and reconnect attempts with growing delays, never a crash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { wmsSchema } from '../../agent/config/schema.js';
import { createLogger } from '../../platform/logger.js';
import { WmsLink, type Alert } from '../../agent/link/wms-link.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { makePki, type TestPki } from '../helpers/pki.js';
import { startTls12Broker } from './tls12-broker.js';
import { collect } from './collector.js';
import { waitFor } from '../helpers/wait.js';

let pkiDir: ReturnType<typeof tmpDir>;
let pki: TestPki;
before(() => {
  pkiDir = tmpDir('pki-');
  pki = makePki(pkiDir.path);
});
after(() => pkiDir.cleanup());

interface Run {
  link: WmsLink;
  alerts: Alert[];
  failures: { kind: string; retryInMs: number; err: string }[];
  connected: () => boolean;
  done: () => Promise<void>;
}

function run(url: string, tls: Record<string, string>, extra: Record<string, unknown> = {}): Run {
  const data = tmpDir();
  const failures: Run['failures'] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const j = JSON.parse(line) as { msg: string; kind: string; retryInMs: number; err: string };
        if (j.msg === 'WMS connection attempt failed') failures.push(j);
      }
      cb();
    },
  });
  const link = new WmsLink({
    tenant: 't1',
    gatewayId: 'gw1',
    dataDir: data.path,
    version: '1.0.0',
    wms: wmsSchema.parse({ urls: [url], tls, reconnect: { minMs: 100, maxMs: 2000 }, ...extra }),
    logger: createLogger({ level: 'info', destination: sink }),
  });
  const alerts: Alert[] = [];
  let up = false;
  link.on('alert', (a: Alert) => alerts.push(a));
  link.on('connected', () => (up = true));
  link.on('disconnected', () => (up = false));
  return {
    link,
    alerts,
    failures,
    connected: () => up,
    done: async () => {
      await link.stop();
      data.cleanup();
    },
  };
}

const mtlsBroker = (tlsVersion: 'tlsv1.2' | 'tlsv1.3' = 'tlsv1.3') =>
  startMosquitto({
    tls: {
      ca: pki.ca,
      cert: pki.serverCert,
      key: pki.serverKey,
      requireCertificate: true,
      tlsVersion,
    },
  });

test(
  'mutual TLS 1.3: the right client certificate connects and publishes',
  { timeout: 20_000 },
  async () => {
    const broker = await mtlsBroker();
    const sub = await collect(broker.url, 'wms/t1/gw1/#', {
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
      clientId: 'tls-sub',
    });
    const r = run(broker.url, {
      ca: pki.ca,
      cert: pki.clientCert,
      key: readFileSync(pki.clientKey).toString(),
    });
    try {
      await r.link.start();
      await waitFor(r.connected, 10_000, 'link connected');
      r.link.publishData('plc-a', { ts: new Date().toISOString(), values: { x: 1 }, quality: {} });
      await waitFor(() => (sub.seqs.get('plc-a')?.length ?? 0) > 0, 5000, 'data over mTLS');
      const status = sub.messages.find((m) => m.topic === 'wms/t1/gw1/status');
      assert.equal(JSON.parse(status!.payload.toString()).state, 'online');
      assert.deepEqual(r.failures, []);
      assert.ok(
        !r.alerts.some((a) => a.code.startsWith('wms.tls')),
        'no TLS alert for a good setup',
      );
    } finally {
      await r.done();
      await sub.close();
      await broker.stop();
    }
  },
);

async function expectRefusal(
  brokerVersion: 'tlsv1.2' | 'tlsv1.3',
  tls: Record<string, string>,
  kind: string,
): Promise<Run> {
  const broker =
    brokerVersion === 'tlsv1.2'
      ? await startTls12Broker({ ca: pki.ca, cert: pki.serverCert, key: pki.serverKey })
      : await mtlsBroker();
  const r = run(broker.url, tls);
  try {
    await r.link.start();
    await waitFor(() => r.failures.length >= 3, 10_000, '3 failed attempts');
    assert.equal(r.connected(), false);
    assert.ok(
      r.failures.every((f) => f.kind === kind),
      `every attempt failed as ${kind}: ${JSON.stringify(r.failures[0])}`,
    );
    // Capped exponential backoff: the delays grow (the jitter keeps each within [base/2, base]).
    assert.ok(r.failures[2]!.retryInMs > r.failures[0]!.retryInMs, 'delays grow');
    const a = r.alerts.filter((x) => x.code === `wms.${kind}`);
    assert.equal(a.length, 1, `one ${kind} alert, not one per attempt`);
    assert.equal(a[0]!.level, 'critical');
    return r;
  } finally {
    await r.done();
    await broker.stop();
  }
}

test('a broker that only speaks TLS 1.2 is refused', { timeout: 20_000 }, async () => {
  await expectRefusal(
    'tlsv1.2',
    { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
    'tls.version-refused',
  );
});

test('a broker certificate from another CA is untrusted', { timeout: 20_000 }, async () => {
  await expectRefusal(
    'tlsv1.3',
    { ca: pki.otherCa, cert: pki.clientCert, key: pki.clientKey },
    'tls.untrusted',
  );
});

test('a certificate for another host name is refused', { timeout: 20_000 }, async () => {
  await expectRefusal(
    'tlsv1.3',
    { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, servername: 'wms.other.example' },
    'tls.hostname-mismatch',
  );
});

test(
  'an expired client certificate: critical alert at start, the broker refuses it, retries',
  { timeout: 20_000 },
  async () => {
    const keyPath = pki.expiredCert.replace(/\.pem$/, '.key');
    const r = await expectRefusal(
      'tlsv1.3',
      { ca: pki.ca, cert: pki.expiredCert, key: keyPath },
      'tls.client-cert-rejected',
    );
    assert.ok(r.alerts.some((a) => a.code === 'wms.tls.cert-expired' && a.level === 'critical'));
  },
);

test(
  'client certificate expiry: warning within 30 days, critical within 7; open key file warned',
  { timeout: 20_000 },
  async () => {
    const cases = [
      { days: 20, level: 'warning' },
      { days: 5, level: 'critical' },
    ];
    for (const c of cases) {
      const cert = pki.clientCertValidFor(c.days);
      const key = cert.replace(/\.pem$/, '.key');
      chmodSync(key, 0o644);
      const r = run(
        'mqtts://127.0.0.1:1',
        { ca: pki.ca, cert, key },
        { reconnect: { minMs: 5000, maxMs: 5000 } },
      );
      try {
        await r.link.start();
        const exp = r.alerts.find((a) => a.code === 'wms.tls.cert-expiring');
        assert.equal(exp?.level, c.level, `${c.days} days left`);
        assert.ok(
          r.alerts.some((a) => a.code === 'wms.tls.key-permissions' && a.level === 'warning'),
        );
      } finally {
        await r.done();
      }
    }
  },
);
