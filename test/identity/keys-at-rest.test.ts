// Keys at rest through the real CLI: an encrypted key without WMS_KEY_PASSPHRASE, or with a wrong one,
// stops `wms-gateway run` at start with an error naming the variable, and no key file is rewritten (not
// even the operator's plaintext one when a stored key fails). `diagnose` flags a plaintext key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { encryptKeyPem } from '../../agent/identity/key-file.js';
import { makeIdentityPki, type IdentityPki } from './identity-fixtures.js';

let dir: ReturnType<typeof tmpDir>;
let pki: IdentityPki;
before(async () => {
  dir = tmpDir('idkeys-');
  pki = await makeIdentityPki(dir.path);
});
after(() => dir.cleanup());

function setup(name: string, key: string, cert: string) {
  const d = join(dir.path, name);
  mkdirSync(d, { recursive: true });
  const cfg = join(d, 'gateway.yaml');
  writeFileSync(
    cfg,
    stringify({
      gateway: { tenant: 't', id: 'gw-k' },
      // Port 9 (discard) on loopback: nothing answers; these runs must stop before connecting anyway.
      wms: { urls: ['mqtts://127.0.0.1:9'], tls: { ca: pki.ca, cert, key } },
    }),
  );
  return { cfg, data: join(d, 'data') };
}

const run = (cfg: string, data: string, env: Record<string, string | undefined>) =>
  runCli(['run', '--config', cfg, '--data-dir', data], {
    env: { HTTP_PORT: '0', WMS_KEY_PASSPHRASE: '', ...env },
    timeoutMs: 120_000, // generous: a loaded 2-core machine starts the CLI slowly
  });

test('an encrypted key with no or a wrong WMS_KEY_PASSPHRASE: clear error at start, nothing rewritten', async () => {
  const dev = await pki.device('gw-k-enc', { cn: 'gw-k', lifetimeS: 86_400 });
  writeFileSync(dev.key, encryptKeyPem(createPrivateKey(dev.keyPem), 'right-one'));
  const before = readFileSync(dev.key);
  const { cfg, data } = setup('enc', dev.key, dev.cert);

  const missing = await run(cfg, data, {});
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(
    missing.stderr,
    /wms\.tls\.key: the key is encrypted and WMS_KEY_PASSPHRASE is not set/,
  );

  const wrong = await run(cfg, data, { WMS_KEY_PASSPHRASE: 'not-the-one' });
  assert.equal(wrong.code, 2, wrong.stderr);
  assert.match(wrong.stderr, /WMS_KEY_PASSPHRASE does not decrypt this key/);
  assert.ok(!(wrong.stderr + wrong.stdout).includes('not-the-one'), 'the passphrase is not echoed');
  assert.deepEqual(readFileSync(dev.key), before, 'the key file is untouched');
});

test('a stored identity key that does not open stops the start before the plaintext key is migrated', async () => {
  const dev = await pki.device('gw-k-plain', { cn: 'gw-k', lifetimeS: 86_400 });
  const renewed = await pki.device('gw-k-renewed', { cn: 'gw-k', lifetimeS: 86_400 });
  const { cfg, data } = setup('stored', dev.key, dev.cert);
  const idDir = join(data, 'identity');
  mkdirSync(idDir, { recursive: true });
  writeFileSync(join(idDir, 'cert-AA.pem'), renewed.certPem);
  writeFileSync(join(idDir, 'key-r1.key'), encryptKeyPem(renewed.keyObject, 'old-passphrase'));
  writeFileSync(
    join(idDir, 'active.json'),
    JSON.stringify({
      current: { cert: 'cert-AA.pem', key: 'key-r1.key', serial: 'AA' },
      state: 'active',
      since: new Date().toISOString(),
    }),
  );
  const r = await run(cfg, data, { WMS_KEY_PASSPHRASE: 'new-passphrase' });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /identity\/key-r1\.key: WMS_KEY_PASSPHRASE does not decrypt this key/);
  assert.equal(readFileSync(dev.key, 'utf8'), dev.keyPem, 'the plaintext key was not rewritten');
});

test('diagnose flags a plaintext client key and an encrypted one it cannot open', async () => {
  const dev = await pki.device('gw-k-diag', { cn: 'gw-k', lifetimeS: 86_400 });
  const { cfg, data } = setup('diag', dev.key, dev.cert);
  const diagnose = async (env: Record<string, string>) => {
    const r = await runCli(['diagnose', '--json', '--config', cfg, '--data-dir', data], {
      env: { WMS_KEY_PASSPHRASE: '', ...env },
      timeoutMs: 120_000,
    });
    const rep = JSON.parse(r.stdout) as {
      checks: { name: string; status: string; message: string; recommendation?: string }[];
    };
    return rep.checks;
  };
  const first = await diagnose({});
  const plain = first.find((c) => c.name === 'identity.key')!;
  assert.equal(plain.status, 'warning');
  assert.match(plain.message, /plaintext/);
  assert.match(plain.recommendation ?? '', /WMS_KEY_PASSPHRASE/);
  const certCheck = first.find((c) => c.name === 'identity.certificate')!;
  assert.equal(certCheck.status, 'ok');
  assert.match(certCheck.message, /CN=gw-k/);

  writeFileSync(dev.key, encryptKeyPem(createPrivateKey(dev.keyPem), 'pw-1'));
  const locked = (await diagnose({})).find((c) => c.name === 'identity.key')!;
  assert.equal(locked.status, 'critical');
  assert.match(locked.message, /WMS_KEY_PASSPHRASE is not set/);
  const ok = (await diagnose({ WMS_KEY_PASSPHRASE: 'pw-1' })).find(
    (c) => c.name === 'identity.key',
  )!;
  assert.equal(ok.status, 'ok');
  assert.match(ok.message, /encrypted/);
});
