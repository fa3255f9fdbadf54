// The whole renewal through the running agent: `wms-gateway run` on mutual TLS 1.3 to a mosquitto with
// require_certificate, a device certificate that lives 90 s, and `wms-gateway pki serve` as the WMS's CA.
// The agent renews by itself at two thirds of the lifetime, reconnects with the new pair and keeps
// publishing with no gap in seq. Its keys are encrypted at rest (the operator's plaintext key is rewritten
// at start) and useless without the passphrase, which appears in nothing the agent leaves behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { gapsAndDisorder } from '../link/collector.js';
import { makeIdentityPki, startPkiServe, wmsTlsOptions } from './identity-fixtures.js';
import { onTeardown, startGateway } from '../helpers/gateway-fixture.js';
import { mutualTls } from '../helpers/mosquitto.js';

const PASS = 'e2e-Passphrase-5c1d9b';

/** Every file under dir, recursively. */
function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? allFiles(p) : e.isFile() ? [p] : [];
  });
}

/** Can openssl open the key with this passphrase? */
function opensslOpens(keyFile: string, pass: string): boolean {
  try {
    execFileSync('openssl', ['pkey', '-in', keyFile, '-passin', `pass:${pass}`, '-noout'], {
      stdio: 'pipe',
    });
    return true;
  } catch {
    return false;
  }
}

test(
  'the running agent renews its certificate over MQTT with no seq gap; keys encrypted; passphrase never leaks',
  { timeout: 360_000 },
  async (t) => {
    const dir = tmpDir('idrun-');
    const pki = await makeIdentityPki(dir.path);
    const data = join(dir.path, 'data');
    mkdirSync(join(data, 'keys'), { recursive: true });
    // Lifetime 240 s, 120 s already gone: renewal (at two thirds) is due ~40 s after start, and the old
    // certificate still works for two minutes however slowly a loaded machine starts the agent.
    const dev = await pki.device('gw-r', { cn: 'gw-r', lifetimeS: 240, backdateS: 120 });
    const operatorKey = join(data, 'keys', 'gw-key.pem'); // plaintext, as an operator copies it
    writeFileSync(operatorKey, dev.keyPem, { mode: 0o600 });
    onTeardown(t, dir.cleanup); // first on the stack: removed after everything else stopped
    const tlsOpts = wmsTlsOptions(pki);
    const gw = await startGateway(t, {
      id: 'gw-r',
      broker: { tls: mutualTls(pki) },
      sims: 1,
      wms: {
        tls: { ca: pki.ca, cert: dev.cert, key: operatorKey },
        reconnect: { minMs: 100, maxMs: 1000 },
        heartbeatSeconds: 2,
      },
      extra: { identity: { retryMinSeconds: 2, retryMaxSeconds: 10 } },
      collectOpts: { ...tlsOpts, clientId: 'e2e-sub' },
      dataDir: data,
      env: { WMS_KEY_PASSPHRASE: PASS, LOG_LEVEL: 'info' },
      start: false,
    });
    const { broker, sub } = gw;
    const cfg = gw.configPath;
    const signer = startPkiServe(t, pki, broker.url);
    const agent = await gw.startAgent();
    await signer.listening();
    const states = () =>
      sub.messages
        .filter((m) => m.topic === 'wms/acme/gw-r/cert/state')
        .map((m) => JSON.parse(m.payload.toString()) as Record<string, string>);
    await waitFor(() => states().length > 0, 90_000, 'first cert/state');
    const initial = states()[0]!;
    const seqs = () => sub.seqs.get('plc-0') ?? [];
    await waitFor(() => seqs().length >= 10, 60_000, 'data flowing on the initial certificate');

    // The renewal, by the agent alone: CSR, issued certificate, reconnect with it, confirmed.
    await waitFor(
      () => states().some((s) => s.serial !== initial.serial && s.status === 'ok'),
      120_000,
      `a renewed certificate in force (agent log tail: ${agent.output().slice(-1500)})`,
    );
    const renewed = states().find((s) => s.serial !== initial.serial && s.status === 'ok')!;
    assert.equal(renewed.subject, 'CN=gw-r');
    assert.ok(
      new Date(renewed.notAfter!) > new Date(initial.notAfter!),
      'the new one lives longer',
    );
    const csr = sub.messages.find((m) => m.topic === 'wms/acme/gw-r/cert/csr');
    assert.ok(csr, 'the CSR went out on cert/csr');
    assert.equal(JSON.parse(csr.payload.toString()).reason, 'renewal');
    assert.match(signer.output(), /"event":"issued"/);

    // Data keeps flowing after the switch, with every seq from the first one on.
    const atRenewal = Math.max(...seqs());
    await waitFor(() => Math.max(...seqs()) >= atRenewal + 20, 20_000, 'data after the renewal');
    assert.deepEqual(gapsAndDisorder(seqs(), seqs()[0]), [], 'no gap, no disorder across renewal');
    const distinct = new Set(seqs()).size;
    assert.equal(distinct, Math.max(...seqs()) - seqs()[0]! + 1, 'every seq arrived');

    // Keys at rest: the operator's plaintext key was rewritten encrypted, the new one written encrypted.
    const identityDir = join(data, 'identity');
    const active = JSON.parse(readFileSync(join(identityDir, 'active.json'), 'utf8'));
    const newKey = join(identityDir, active.current.key);
    for (const k of [operatorKey, newKey]) {
      assert.match(readFileSync(k, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, k);
      assert.equal(statSync(k).mode & 0o077, 0, `${k} is 0600`);
      assert.equal(
        opensslOpens(k, 'wrong-passphrase'),
        false,
        `${k} useless with a wrong passphrase`,
      );
      assert.equal(opensslOpens(k, ''), false, `${k} useless without a passphrase`);
      assert.equal(opensslOpens(k, PASS), true, `${k} opens with WMS_KEY_PASSPHRASE`);
    }

    // The passphrase appears nowhere: /metrics, /health, the dashboard state, MQTT (heartbeats
    // included), logs, stdout, the data dir and a backup of it.
    const port = Number(/"port":(\d+),"msg":"http listening/.exec(agent.output())?.[1]);
    assert.ok(port > 0, 'http port in the log');
    const http = await Promise.all(
      ['/metrics', '/health', '/api/state', '/'].map((p) =>
        fetch(`http://127.0.0.1:${port}${p}`).then((r) => r.text()),
      ),
    );
    const api = JSON.parse(http[2]!) as { identity?: { serial: string } };
    assert.equal(api.identity?.serial, renewed.serial, 'the dashboard state shows the certificate');
    assert.ok(
      sub.messages.some((m) => m.topic === 'wms/acme/gw-r/heartbeat'),
      'heartbeats were sent',
    );
    await agent.stop('SIGTERM');
    const backup = await runCli(['backup', 'create', '--data-dir', data], { timeoutMs: 120_000 });
    assert.equal(backup.code, 0, backup.stderr);
    const diag = await runCli(['diagnose', '--json', '--config', cfg, '--data-dir', data], {
      env: { WMS_KEY_PASSPHRASE: PASS },
      timeoutMs: 120_000,
    });
    const report = JSON.parse(diag.stdout) as {
      checks: { name: string; status: string; message: string }[];
    };
    const idKey = report.checks.find((c) => c.name === 'identity.key');
    const idCert = report.checks.find((c) => c.name === 'identity.certificate');
    assert.equal(idKey?.status, 'ok', JSON.stringify(idKey));
    assert.match(idCert?.message ?? '', new RegExp(renewed.serial!));
    const haystacks: [string, string | Buffer][] = [
      ['agent output', agent.output()],
      ['signer output', signer.output()],
      ['diagnose', diag.stdout + diag.stderr],
      ...http.map((h, i) => [`http ${i}`, h] as [string, string]),
      ...sub.messages.map((m) => [`mqtt ${m.topic}`, m.payload] as [string, Buffer]),
      ...allFiles(data).map((f) => [f, readFileSync(f)] as [string, Buffer]),
    ];
    for (const [where, text] of haystacks)
      assert.equal(text.includes(PASS), false, `the passphrase leaked into ${where}`);
    const backupFiles = allFiles(join(data, 'backups'));
    assert.ok(backupFiles.some((f) => f.endsWith('gateway.yaml') || f.endsWith('manifest.json')));
    for (const f of backupFiles)
      assert.doesNotMatch(readFileSync(f, 'latin1'), /PRIVATE KEY-----/, `no key in backup ${f}`);
  },
);
