// Long CLI work shows progress on stderr: a bar on a terminal (a real pseudo-terminal from script(1)),
// plain lines in logs, nothing with --progress none; stdout keeps only the result scripts parse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_ENTRY, ROOT, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const tmp = tmpDir('progress-');
after(() => tmp.cleanup());
const keysDir = join(tmp.path, 'keys');
const tree = join(tmp.path, 'tree');

// A build tree big enough that hashing and compressing are real work: 12 files, 6 MiB.
before(async () => {
  mkdirSync(join(tree, 'dist'), { recursive: true });
  writeFileSync(join(tree, 'package.json'), JSON.stringify({ name: 'x', version: '2.0.0' }));
  for (let i = 0; i < 12; i++) writeFileSync(join(tree, 'dist', `f${i}.bin`), randomBytes(1 << 19));
  const k = await runCli(['ota', 'keygen', '--out', keysDir, '--kid', 'k1']);
  assert.equal(k.code, 0, k.stderr);
});

const packArgs = (out: string, progress: string) => [
  'ota',
  'pack',
  tree,
  '--key',
  join(keysDir, 'k1.private.jwk'),
  '--name',
  'wms-gateway',
  '--bundle-version',
  '2.0.0',
  '--counter',
  '2',
  '-o',
  out,
  '--progress',
  progress,
];

test('ota pack --progress lines: each phase from 0 % to 100 % on stderr, the summary on stdout', async () => {
  const out = join(tmp.path, 'lines.bundle');
  const r = await runCli(packArgs(out, 'lines'), { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.trim().split('\n');
  for (const phase of ['hashing', 'compressing']) {
    assert.ok(lines.includes(`${phase}: 0% (0.0 MiB of 6.0 MiB)`), r.stderr);
    assert.ok(lines.includes(`${phase}: 100% (6.0 MiB of 6.0 MiB)`), r.stderr);
  }
  assert.ok(
    lines.indexOf('hashing: 100% (6.0 MiB of 6.0 MiB)') <
      lines.indexOf('compressing: 0% (0.0 MiB of 6.0 MiB)'),
    'phases in order',
  );
  assert.doesNotMatch(r.stdout, /%/, 'stdout holds only the result');
  assert.match(r.stdout, /full bundle wms-gateway 2\.0\.0/);
  const verify = await runCli(['ota', 'verify', out, '--keys', join(keysDir, 'k1.public.jwk')]);
  assert.equal(verify.code, 0, verify.stderr);
});

test('ota pack --progress none prints nothing but the result', async () => {
  const r = await runCli(packArgs(join(tmp.path, 'none.bundle'), 'none'), { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test(
  'on a terminal (auto) ota pack draws a bar',
  { skip: existsSync('/usr/bin/script') ? false : 'script(1) is missing (util-linux)' },
  () => {
    const out = join(tmp.path, 'tty.bundle');
    const cmd = [process.execPath, '--import', 'tsx', CLI_ENTRY, ...packArgs(out, 'auto')]
      .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
      .join(' ');
    // script(1) runs the command on a real pseudo-terminal and copies what it drew to stdout.
    const r = spawnSync('/usr/bin/script', ['-qec', cmd, '/dev/null'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, LOG_JSON: '1' },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /hashing\s+\[[█░]+\] 100% \| 6\.0 MiB \/ 6\.0 MiB/);
    assert.match(r.stdout, /compressing\s+\[[█░]+\] 100%/);
    assert.ok(existsSync(out));
  },
);

test('backup create and restore --progress lines report each file copied', async () => {
  const data = join(tmp.path, 'data');
  mkdirSync(join(data, 'state'), { recursive: true });
  for (let i = 0; i < 6; i++)
    writeFileSync(join(data, 'state', `c${i}.json`), `[${i}]\n`.repeat(20_000));
  const made = await runCli(['backup', 'create', '--data-dir', data, '--progress', 'lines'], {
    timeoutMs: 120_000,
  });
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stderr, /^backing up: 0% /m);
  assert.match(made.stderr, /^backing up: 100% \(\d+\.\d MiB of \d+\.\d MiB\)$/m);
  const id = /^(\S+): full/m.exec(made.stdout)?.[1];
  assert.ok(id, made.stdout);

  writeFileSync(join(data, 'state', 'c0.json'), 'damaged\n');
  const restored = await runCli(
    ['backup', 'restore', id, '--data-dir', data, '--progress', 'lines'],
    { timeoutMs: 120_000 },
  );
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stderr, /^verifying: 100% /m);
  assert.match(restored.stderr, /^restoring: 100% /m);
  assert.equal(readFileSync(join(data, 'state', 'c0.json'), 'utf8'), '[0]\n'.repeat(20_000));
});
