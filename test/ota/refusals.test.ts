// Every refusal reason, one test each: the reason lands in ota/state and the history; the active slot is untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tmpDir } from '../helpers/tmp.js';
import { MANIFEST_FORMAT, type Manifest } from '../../ota/bundle/manifest.js';
import { generateSigningKey } from '../../ota/bundle/signing.js';
import { scanTree, sha256, treeSha256 } from '../../ota/bundle/tree.js';
import {
  agentFor,
  craftBundle,
  fullEntry,
  kit,
  otaConfig,
  packDelta,
  packFull,
  state,
  writeAgent,
  type Kit,
} from './ota-fixtures.js';

let k: Kit;
const tmp = tmpDir('ota-refuse-');
const factory = writeAgent(join(tmp.path, 'factory'), '1.0.0', 'healthy');
const v2 = writeAgent(join(tmp.path, 'v2'), '2.0.0', 'healthy');
let n = 0;

before(async () => {
  k = await kit();
});
after(() => tmp.cleanup());

function device() {
  const dataDir = join(tmp.path, `dev-${++n}`);
  mkdirSync(dataDir, { recursive: true });
  return dataDir;
}

async function expectRefusal(
  bundle: string,
  reason: string,
  cfg = otaConfig(k),
  dataDir = device(),
) {
  const agent = agentFor(dataDir, factory, cfg);
  const st = await agent.install({ file: bundle });
  assert.equal(st.phase, 'Failed', JSON.stringify(st.error));
  assert.equal(st.error?.reason, reason, st.error?.message);
  assert.equal(st.active, 'factory');
  assert.equal(st.slots.a, null);
  const last = state(dataDir).history.at(-1)!;
  assert.equal(last.to, 'Failed');
  assert.equal(last.reason, reason);
  assert.ok(!existsSync(join(dataDir, 'ota', 'counter')), 'counter not raised');
  return st;
}

async function bundle(name: string, o: Parameters<Kit['opts']>[0] = {}, dir = v2): Promise<string> {
  const file = join(tmp.path, `${name}.bundle`);
  await packFull(dir, k.opts(o), file);
  return file;
}

function lying(over: Partial<Manifest>, files: ReturnType<typeof fullEntry>[]): Manifest {
  const now = Math.floor(Date.now() / 1000);
  return {
    format: MANIFEST_FORMAT,
    name: 'wms-gateway',
    version: '2.0.0',
    counter: 2,
    kind: 'full',
    target: 'agent',
    treeSha256: treeSha256(files.map((f) => f.file)),
    files: files.map((f) => f.file),
    removed: [],
    payload: files.map((f) => f.payload),
    requires: {},
    iat: now - 60,
    exp: now + 3600,
    ...over,
  };
}

test(
  'a good bundle installs into slot a and waits for the launcher (control case)',
  { timeout: 20_000 },
  async () => {
    const dataDir = device();
    const st = await agentFor(dataDir, factory, otaConfig(k)).install({
      file: await bundle('good'),
    });
    assert.equal(st.phase, 'Switching', JSON.stringify(st.error));
    assert.equal(st.slots.a?.version, '2.0.0');
    assert.equal(
      treeSha256(await scanTree(join(dataDir, 'ota', 'slots', 'a'))),
      treeSha256(await scanTree(v2)),
    );
  },
);

test(
  'a delta from the factory build installs: base files copied, patches applied, every file re-hashed',
  { timeout: 20_000 },
  async () => {
    const dataDir = device();
    const file = join(tmp.path, 'delta-good.bundle');
    await packDelta(factory, v2, { ...k.opts({}), baseVersion: '1.0.0' }, file);
    const st = await agentFor(dataDir, factory, otaConfig(k)).install({ file });
    assert.equal(st.phase, 'Switching', JSON.stringify(st.error));
    assert.equal(
      treeSha256(await scanTree(join(dataDir, 'ota', 'slots', 'a'))),
      treeSha256(await scanTree(v2)),
    );
  },
);

test('refuses a bad signature', { timeout: 20_000 }, async () => {
  await expectRefusal(await bundle('forged', { privateJwk: k.other.privateJwk }), 'bad-signature');
});

test('refuses an unknown key', { timeout: 20_000 }, async () => {
  const stranger = await generateSigningKey('EdDSA', 'stranger');
  await expectRefusal(await bundle('stranger', { privateJwk: stranger.privateJwk }), 'unknown-key');
});

test('refuses an expired manifest', { timeout: 20_000 }, async () => {
  const now = Math.floor(Date.now() / 1000);
  await expectRefusal(await bundle('expired', { iat: now - 7200, exp: now - 3600 }), 'expired');
});

test(
  'refuses a counter not above the installed one (anti-rollback, counter outside the slots)',
  { timeout: 20_000 },
  async () => {
    const dataDir = device();
    mkdirSync(join(dataDir, 'ota'), { recursive: true });
    writeFileSync(join(dataDir, 'ota', 'counter'), '2\n');
    const agent = agentFor(dataDir, factory, otaConfig(k));
    const st = await agent.install({ file: await bundle('old-counter', { counter: 2 }) });
    assert.equal(st.error?.reason, 'counter-not-above');
    assert.equal(st.active, 'factory');
  },
);

test('refuses incompatible requires (image version)', { timeout: 20_000 }, async () => {
  await expectRefusal(
    await bundle('requires', { requires: { image: '>=2.0.0' } }),
    'incompatible-requires',
  );
});

test('refuses the wrong device type', { timeout: 20_000 }, async () => {
  const file = await bundle('devtype', { requires: { deviceTypes: ['raspberrypi4-64'] } });
  await expectRefusal(file, 'wrong-device-type', otaConfig(k, { deviceType: 'intel-nuc' }));
});

test('refuses a gateway outside the ring', { timeout: 20_000 }, async () => {
  await expectRefusal(
    await bundle('ring', { rollout: { ring: ['canary'] } }),
    'not-targeted',
    otaConfig(k, { ring: 'stable' }),
  );
});

test('refuses a gateway outside the rollout percentage', { timeout: 20_000 }, async () => {
  await expectRefusal(await bundle('pct', { rollout: { percentage: 0 } }), 'not-targeted');
});

for (const [label, entry] of [
  ['path traversal', { path: 'full/../../../etc/evil.gz', data: gzipSync('x') }],
  ['an absolute path', { path: '/etc/evil.gz', data: gzipSync('x') }],
  [
    'a symlink out of the slot',
    { path: 'full/bin/link', type: 'SymbolicLink' as const, linkpath: '/etc/passwd' },
  ],
  ['a hard link', { path: 'full/bin/hard', type: 'Link' as const, linkpath: '../../etc/passwd' }],
] as const) {
  test(`refuses ${label} in the tar`, { timeout: 20_000 }, async () => {
    const f = fullEntry('bin/wms-gateway.js', Buffer.from('console.log(1)\n'));
    const file = join(tmp.path, `unsafe-${label.replace(/\W/g, '')}.bundle`);
    await craftBundle(file, lying({}, [f]), k.keys.privateJwk, [f.entry, entry]);
    await expectRefusal(file, 'unsafe-path');
    assert.ok(!existsSync('/etc/evil.gz'));
  });
}

test('refuses a file whose hash differs from the manifest', { timeout: 20_000 }, async () => {
  const f = fullEntry('bin/wms-gateway.js', Buffer.from('console.log(1)\n'));
  const evil = gzipSync(Buffer.from('console.log(2)\n')); // same size, other bytes
  const m = lying({}, [f]);
  m.payload = [{ path: f.entry.path, size: evil.length, sha256: sha256(evil) }];
  const file = join(tmp.path, 'hash.bundle');
  await craftBundle(file, m, k.keys.privateJwk, [{ path: f.entry.path, data: evil }]);
  await expectRefusal(file, 'hash-mismatch');
});

test('refuses a file whose size differs from the manifest', { timeout: 20_000 }, async () => {
  const f = fullEntry('bin/wms-gateway.js', Buffer.from('console.log(1)\n'));
  const longer = gzipSync(Buffer.from('console.log(1); console.log(2)\n'));
  const m = lying({}, [f]);
  m.payload = [{ path: f.entry.path, size: longer.length, sha256: sha256(longer) }];
  const file = join(tmp.path, 'size.bundle');
  await craftBundle(file, m, k.keys.privateJwk, [{ path: f.entry.path, data: longer }]);
  await expectRefusal(file, 'size-mismatch');
});

test('refuses a payload entry with more bytes than announced', { timeout: 20_000 }, async () => {
  const f = fullEntry('bin/wms-gateway.js', Buffer.from('console.log(1)\n'));
  const file = join(tmp.path, 'more.bundle');
  await craftBundle(file, lying({}, [f]), k.keys.privateJwk, [
    { path: f.entry.path, data: Buffer.concat([f.entry.data!, Buffer.alloc(100)]) },
  ]);
  await expectRefusal(file, 'too-large');
});

test('refuses a bundle bigger than ota.maxBundleBytes', { timeout: 20_000 }, async () => {
  const big = writeAgent(join(tmp.path, 'big'), '2.0.0', 'healthy', {
    'blob.bin': randomBytes(8192).toString('hex'),
  });
  await expectRefusal(
    await bundle('big', {}, big),
    'too-large',
    otaConfig(k, { maxBundleBytes: 2048 }),
  );
});

test(
  'a delta whose base does not match asks for the full bundle',
  { timeout: 20_000 },
  async () => {
    const otherBase = writeAgent(join(tmp.path, 'other-base'), '1.0.0', 'plc-down');
    const file = join(tmp.path, 'delta-wrong-base.bundle');
    await packDelta(otherBase, v2, { ...k.opts({}), baseVersion: '1.0.0' }, file);
    const st = await expectRefusal(file, 'base-mismatch');
    assert.match(st.error!.message, /full bundle is needed/);
  },
);

test('refuses an unreadable ota/offer payload', { timeout: 20_000 }, async () => {
  const dataDir = device();
  const published: unknown[] = [];
  const agent = agentFor(dataDir, factory, otaConfig(k), {
    publishState: (s) => published.push(s),
  });
  await agent.handleOffer(Buffer.from('{"url": 42}'));
  const st = agent.state();
  assert.equal(st.error?.reason, 'bad-offer');
  assert.match(st.error!.message, /offer\.url/);
  assert.ok(published.length > 0, 'ota/state published');
});
