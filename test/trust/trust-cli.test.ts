// `wms-gateway trust keygen|sign|inspect` as a publisher runs it: real CLI processes, real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeSigner } from '../commands/signer.js';

test(
  'keygen a root, sign a policy, inspect it; a private key in a policy is refused',
  { timeout: 240_000 },
  async (t) => {
    const dir = tmpDir('wmsgw-trust-cli-');
    t.after(dir.cleanup);
    const keys = join(dir.path, 'keys');
    const gen = await runCli(['trust', 'keygen', '--out', keys, '--kid', 'root-a'], {
      timeoutMs: 90_000,
    });
    assert.equal(gen.code, 0, gen.stderr);
    const priv = join(keys, 'root-a.private.jwk');
    const pub = JSON.parse(readFileSync(join(keys, 'root-a.public.jwk'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(pub.d, undefined);
    assert.ok('d' in (JSON.parse(readFileSync(priv, 'utf8')) as object));
    writeFileSync(join(dir.path, 'roots.json'), JSON.stringify([pub]));
    const wms = await makeSigner('ES256', 'wms-1');
    const policyFile = join(dir.path, 'policy.json');
    writeFileSync(
      policyFile,
      JSON.stringify({
        version: 3,
        keys: [{ kid: 'wms-1', jwk: wms.publicJwk, roles: ['commands'], plcs: ['conv-*'] }],
        revoked: ['old-1'],
      }),
    );
    const out = join(dir.path, 'policy.jws');
    const signed = await runCli(['trust', 'sign', policyFile, '--key', priv, '--out', out], {
      timeoutMs: 90_000,
    });
    assert.equal(signed.code, 0, signed.stderr);
    const shown = await runCli(['trust', 'inspect', out, '--roots', join(dir.path, 'roots.json')], {
      timeoutMs: 90_000,
    });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /version\s+3/);
    assert.match(shown.stdout, /signed by root-a/);
    assert.match(shown.stdout, /wms-1: commands; plcs conv-\*/);
    assert.match(shown.stdout, /revoked\s+old-1/);
    assert.match(shown.stdout, /signatures verify/);
    // A policy that hands out a private key: one line, exit 2, nothing written.
    writeFileSync(
      policyFile,
      JSON.stringify({
        version: 4,
        keys: [{ kid: 'x', jwk: JSON.parse(readFileSync(priv, 'utf8')), roles: ['commands'] }],
      }),
    );
    const bad = await runCli(
      ['trust', 'sign', policyFile, '--key', priv, '--out', join(dir.path, 'bad.jws')],
      { timeoutMs: 90_000 },
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^wms-gateway: private-key: /);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.equal(existsSync(join(dir.path, 'bad.jws')), false);
  },
);
