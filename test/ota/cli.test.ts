// `wms-gateway ota ...` as a user runs it: every command answers --help, bad input is one line + exit 2
// with nothing half-written, pack/delta are deterministic, verify/inspect tell what a bundle is.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import { writeAgent } from './ota-fixtures.js';

const tmp = tmpDir('ota-cli-');
after(() => tmp.cleanup());
const keysDir = join(tmp.path, 'keys');
let keygen: Awaited<ReturnType<typeof runCli>>;
before(async () => {
  keygen = await runCli(['ota', 'keygen', '--out', keysDir, '--kid', 'k1']);
});
const v1 = writeAgent(join(tmp.path, 'v1'), '1.0.0', 'healthy', {
  'dist/app.js': 'export const a = 1;\nexport const b = 2;\n',
});
const v2 = writeAgent(join(tmp.path, 'v2'), '1.0.1', 'healthy', {
  'dist/app.js': 'export const a = 1;\nexport const b = 3;\n',
});
const packArgs = (input: string, out: string, v = '1.0.0', c = '1') => [
  'ota',
  'pack',
  input,
  '--key',
  join(keysDir, 'k1.private.jwk'),
  '--name',
  'wms-gateway',
  '--bundle-version',
  v,
  '--counter',
  c,
  '--iat',
  '1700000000',
  '--expires-in-days',
  '36500',
  '-o',
  out,
];

test('every ota command answers --help', { timeout: 60_000 }, async () => {
  const cmds = [
    'keygen',
    'pack',
    'delta',
    'inspect',
    'verify',
    'status',
    'history',
    'rollback',
    'install',
  ];
  for (let i = 0; i < cmds.length; i += 3)
    await Promise.all(
      cmds.slice(i, i + 3).map(async (cmd) => {
        const r = await runCli(['ota', cmd, '--help']);
        assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
        assert.match(r.stdout, new RegExp(`Usage: wms-gateway ota ${cmd}`));
      }),
    );
});

test(
  'keygen, pack twice (same bytes), delta, inspect and verify',
  { timeout: 60_000 },
  async () => {
    assert.equal(keygen.code, 0, keygen.stderr);
    assert.equal(
      JSON.parse(readFileSync(join(keysDir, 'k1.public.jwk'), 'utf8')).d,
      undefined,
      'public key holds no secret',
    );
    const again = await runCli(['ota', 'keygen', '--out', keysDir, '--kid', 'k1']);
    assert.equal(again.code, 2, 'an existing key is not overwritten');

    const a = join(tmp.path, 'a.bundle');
    const b = join(tmp.path, 'b.bundle');
    for (const out of [a, b]) {
      const r = await runCli(packArgs(v1, out));
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(readFileSync(a).equals(readFileSync(b)), 'same input → same bytes');

    const d = join(tmp.path, 'd.bundle');
    const delta = await runCli([
      ...packArgs(v2, d, '1.0.1', '2').map((x) => (x === 'pack' ? 'delta' : x)),
      '--base',
      a,
      '--base-version',
      '1.0.0',
    ]);
    assert.equal(delta.code, 0, delta.stderr);
    assert.match(delta.stdout, /delta bundle wms-gateway 1\.0\.1/);

    const noBase = await runCli(['ota', 'inspect', d]);
    assert.equal(noBase.code, 2, 'a delta manifest patched against its base needs --base');
    assert.match(noBase.stderr, /base/);
    const insp = await runCli(['ota', 'inspect', d, '--json', '--base', a]);
    assert.equal(insp.code, 0, insp.stderr);
    const doc = JSON.parse(insp.stdout);
    assert.equal(doc.manifestEntry, 'manifest.json.xd3');
    const m = doc.manifest;
    assert.equal(m.kind, 'delta');
    assert.equal(m.files.length, 3, 'every resulting file is listed');
    // Three files changed (the version is in bin/ and package.json too): each carried as an xdelta3 patch.
    assert.deepEqual(
      m.payload.map((p: { path: string }) => p.path),
      ['patch/bin/wms-gateway.js.xd3', 'patch/dist/app.js.xd3', 'patch/package.json.xd3'],
    );

    const ok = await runCli([
      'ota',
      'verify',
      d,
      '--keys',
      join(keysDir, 'k1.public.jwk'),
      '--base',
      v1,
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK/);

    const tampered = join(tmp.path, 't.bundle');
    const bytes = readFileSync(a);
    const mid = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(mid) ^ 0xff, mid);
    writeFileSync(tampered, bytes);
    const bad = await runCli(['ota', 'verify', tampered, '--keys', join(keysDir, 'k1.public.jwk')]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(bad.stderr, /mismatch|not a readable tar|bad-manifest/);
  },
);

test('bad arguments: one line, exit 2, nothing written', { timeout: 60_000 }, async () => {
  const out = join(tmp.path, 'never.bundle');
  const cases: string[][] = [
    [
      'ota',
      'pack',
      v1,
      '--key',
      join(tmp.path, 'missing.jwk'),
      '--name',
      'x',
      '--bundle-version',
      '1.0.0',
      '--counter',
      '1',
      '-o',
      out,
    ],
    [
      'ota',
      'pack',
      v1,
      '--key',
      join(keysDir, 'k1.private.jwk'),
      '--name',
      'x',
      '--bundle-version',
      'not-semver',
      '--counter',
      '1',
      '-o',
      out,
    ],
    [
      'ota',
      'pack',
      v1,
      '--key',
      join(keysDir, 'k1.private.jwk'),
      '--name',
      'x',
      '--bundle-version',
      '1.0.0',
      '--counter',
      '0',
      '-o',
      out,
    ],
    [
      'ota',
      'pack',
      join(tmp.path, 'nope'),
      '--key',
      join(keysDir, 'k1.private.jwk'),
      '--name',
      'x',
      '--bundle-version',
      '1.0.0',
      '--counter',
      '1',
      '-o',
      out,
    ],
    ['ota', 'verify', join(tmp.path, 'nope.bundle'), '--keys', join(keysDir, 'k1.public.jwk')],
    ['ota', 'keygen', '--out', keysDir, '--alg', 'RS256'],
    ['ota', 'status', '--bogus'],
  ];
  for (let i = 0; i < cases.length; i += 3)
    await Promise.all(
      cases.slice(i, i + 3).map(async (args) => {
        const r = await runCli(args);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
        assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
      }),
    );
  assert.ok(!existsSync(out));
  assert.deepEqual(
    readdirSync(tmp.path).filter((f) => f.includes('.tmp')),
    [],
  );
});
