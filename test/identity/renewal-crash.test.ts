// kill -9 in the middle of a renewal leaves a working identity: the running agent is killed once with its
// CSR out and unanswered, and once right as the issued certificate reaches it. Each restart connects to a
// mosquitto that requires a client certificate (so the pair it picks must work), resumes the same CSR or
// the trial, and the renewal completes; data keeps every seq.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { gapsAndDisorder } from '../link/collector.js';
import { certFor, csrPublicKey, makeIdentityPki, wmsTlsOptions } from './identity-fixtures.js';
import { onTeardown, startGateway } from '../helpers/gateway-fixture.js';
import { mutualTls } from '../helpers/mosquitto.js';

test(
  'kill -9 with a CSR pending and again as the certificate arrives: the agent comes back and renews',
  { timeout: 400_000 },
  async (t) => {
    const dir = tmpDir('idcrash-');
    const pki = await makeIdentityPki(dir.path);
    const data = join(dir.path, 'data');
    // 600 s lifetime, 450 s gone: renewal is due at once, and the old pair still works for 150 s.
    const dev = await pki.device('gw-c', { cn: 'gw-c', lifetimeS: 600, backdateS: 450 });
    onTeardown(t, dir.cleanup); // first on the stack: removed after everything else stopped
    const tlsOpts = wmsTlsOptions(pki);
    const gw = await startGateway(t, {
      id: 'gw-c',
      broker: { tls: mutualTls(pki) },
      sims: 1,
      wms: {
        tls: { ca: pki.ca, cert: dev.cert, key: dev.key },
        reconnect: { minMs: 100, maxMs: 1000 },
        heartbeatSeconds: undefined,
      },
      extra: { identity: { retryMinSeconds: 2, retryMaxSeconds: 8 } },
      collectOpts: { ...tlsOpts, clientId: 'crash-sub' },
      dataDir: data,
      env: { WMS_KEY_PASSPHRASE: 'crash-test-pass' },
      start: false,
    });
    const { broker, sub } = gw;
    const wms = await mqtt.connectAsync(broker.url, { ...tlsOpts, clientId: 'crash-wms' });
    onTeardown(t, () => wms.endAsync());
    let answering = false;
    const answered = new Set<string>();
    const answer = async (csr: { id: string; csr: string }) => {
      const now = Date.now();
      const cert = await certFor(csrPublicKey(csr.csr), {
        ca: pki.caPair,
        cn: 'gw-c',
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 600_000),
      });
      answered.add(csr.id);
      await wms.publishAsync('wms/acme/gw-c/cert/issued', JSON.stringify({ id: csr.id, cert }), {
        qos: 1,
      });
    };
    wms.on('message', (_topic, payload) => {
      if (answering) void answer(JSON.parse(payload.toString()) as { id: string; csr: string });
    });
    await wms.subscribeAsync('wms/acme/gw-c/cert/csr', { qos: 1 });

    const agent = await gw.startAgent();
    const kill9 = () => agent.kill9();
    const csrs = () =>
      sub.messages
        .filter((m) => m.topic === 'wms/acme/gw-c/cert/csr')
        .map((m) => JSON.parse(m.payload.toString()) as { id: string; csr: string });
    const states = () =>
      sub.messages
        .filter((m) => m.topic === 'wms/acme/gw-c/cert/state')
        .map(
          (m) =>
            JSON.parse(m.payload.toString()) as { serial: string; status: string; phase: string },
        );
    const onlineCount = () =>
      sub.messages.filter(
        (m) => m.topic === 'wms/acme/gw-c/status' && m.payload.toString().includes('"online"'),
      ).length;

    // 1. The CSR goes out; kill -9 before anyone answers.
    await waitFor(() => csrs().length >= 1, 60_000, 'the first CSR');
    const first = csrs()[0]!;
    await kill9();
    assert.ok(existsSync(join(data, 'identity', 'pending.json')), 'the pending CSR is on disk');
    const initialSerial = states()[0]!.serial;

    // 2. The restart connects on the old pair and sends the same CSR again.
    const online = onlineCount();
    await agent.restart();
    await waitFor(() => onlineCount() > online, 60_000, 'back online on the old pair');
    await waitFor(
      () => csrs().filter((c) => c.id === first.id).length >= 2,
      60_000,
      'the same CSR sent again after the restart',
    );

    // 3. Answer it, and kill -9 as the answer lands (before, during or after the switch).
    answering = true;
    await answer(first);
    await kill9();

    // 4. Whatever the instant, the next start connects and the renewal ends with a new certificate.
    const online2 = onlineCount();
    await agent.restart();
    await waitFor(() => onlineCount() > online2, 60_000, 'online after the second kill');
    await waitFor(
      () => {
        const s = states().at(-1);
        return !!s && s.serial !== initialSerial && s.status === 'ok' && s.phase === 'idle';
      },
      90_000,
      `a renewed certificate in force (states ${JSON.stringify(states().slice(-3))})`,
    );
    const active = JSON.parse(readFileSync(join(data, 'identity', 'active.json'), 'utf8'));
    assert.equal(active.state, 'active');
    assert.equal(existsSync(join(data, 'identity', 'pending.json')), false);

    // Data flows on the renewed pair, and no seq was lost through two kills and a switch.
    const seqs = () => sub.seqs.get('plc-0') ?? [];
    const now = Math.max(...seqs());
    await waitFor(() => Math.max(...seqs()) >= now + 10, 30_000, 'data on the renewed pair');
    assert.deepEqual(gapsAndDisorder(seqs(), seqs()[0]), [], 'no seq gap');
  },
);
