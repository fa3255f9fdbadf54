// Backups: full + differential restored onto an empty data dir give back the same files (hash-checked);
// a damaged backup restores nothing; retention deletes exactly what is old.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  writeFileSync,
  readFileSync,
  existsSync,
  unlinkSync,
  readdirSync,
  appendFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import {
  createBackup,
  listBackups,
  pruneBackups,
  restoreBackup,
  backupsDirOf,
} from '../../agent/maintenance/backup-store.js';
import { isBackupError } from '../../agent/maintenance/errors.js';
import { validateConfig, parseConfigText } from '../../agent/config/validate.js';

const settings = validateConfig({}).maintenance.backups;
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function put(dir: string, rel: string, text: string) {
  mkdirSync(join(dir, rel, '..'), { recursive: true });
  writeFileSync(join(dir, rel), text);
}

function seed(dir: string) {
  put(dir, 'gateway.yaml', 'gateway: { tenant: acme, id: gw-01 }\nwms: { qos: 1 }\n');
  put(
    dir,
    'keys/commands.pub.jwk.json',
    '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}',
  );
  put(
    dir,
    'keys/device.pem',
    '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBsecret\n-----END PRIVATE KEY-----\n',
  );
  put(dir, 'plc-maps/line-1.yaml', 'tags: [speed, count]\n');
  put(dir, 'state/seq.json', '{"conveyor-1":41}');
  put(dir, 'outbox/00000001.seg', 'x'.repeat(1000));
  put(dir, 'logs/agent.log', '{"level":30}\n');
}

test(
  'full + differential backup restored onto an empty data dir gives back the same config and state',
  { timeout: 60_000 },
  async () => {
    const a = tmpDir();
    const b = tmpDir();
    try {
      seed(a.path);
      const full = await createBackup('full', {
        dataDir: a.path,
        ...settings,
        now: new Date('2026-11-01T03:00:00Z'),
      });
      assert.equal(full.kind, 'full');
      assert.deepEqual(full.files.map((f) => f.path).sort(), [
        'gateway.yaml',
        'keys/commands.pub.jwk.json',
        'plc-maps/line-1.yaml',
        'state/seq.json',
      ]);
      assert.deepEqual(full.skippedFiles, [{ rel: 'keys/device.pem', reason: 'private-key' }]);

      // A day of changes: state moves on, the config changes, a map goes, a file appears.
      put(a.path, 'state/seq.json', '{"conveyor-1":977}');
      put(a.path, 'state/ota-counter.json', '{"n":3}');
      appendFileSync(join(a.path, 'gateway.yaml'), 'commands: { requireSignature: true }\n');
      unlinkSync(join(a.path, 'plc-maps/line-1.yaml'));
      const diff = await createBackup('diff', {
        dataDir: a.path,
        ...settings,
        now: new Date('2026-11-02T03:00:00Z'),
      });
      assert.equal(diff.kind, 'diff');
      assert.equal(diff.base, full.id);
      assert.deepEqual(
        diff.files.map((f) => f.path).sort(),
        ['gateway.yaml', 'state/ota-counter.json', 'state/seq.json'],
        'only what changed since the full',
      );
      assert.deepEqual(diff.deleted, ['plc-maps/line-1.yaml']);

      // Restore with the real CLI onto an empty data dir, reading the backups of the first one.
      const r = await runCli([
        'backup',
        'restore',
        diff.id,
        '--data-dir',
        b.path,
        '--from',
        backupsDirOf(a.path),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`${diff.id}: restored 4 files`));
      for (const rel of [
        'gateway.yaml',
        'keys/commands.pub.jwk.json',
        'state/seq.json',
        'state/ota-counter.json',
      ])
        assert.equal(sha(join(b.path, rel)), sha(join(a.path, rel)), `${rel} hash`);
      assert.equal(
        existsSync(join(b.path, 'plc-maps/line-1.yaml')),
        false,
        'deleted after the full: not restored',
      );
      assert.equal(
        existsSync(join(b.path, 'keys/device.pem')),
        false,
        'a private key never goes into a backup',
      );
      assert.equal(existsSync(join(b.path, 'outbox')), false);
      // The restored config is the one the gateway loads.
      const restored = validateConfig(
        parseConfigText(readFileSync(join(b.path, 'gateway.yaml'), 'utf8')),
      );
      assert.equal(restored.gateway.tenant, 'acme');

      // The full alone restores the first day.
      const c = tmpDir();
      try {
        await restoreBackup({ backupsDir: backupsDirOf(a.path), targetDir: c.path, id: full.id });
        assert.equal(readFileSync(join(c.path, 'state/seq.json'), 'utf8'), '{"conveyor-1":41}');
        assert.equal(
          readFileSync(join(c.path, 'plc-maps/line-1.yaml'), 'utf8'),
          'tags: [speed, count]\n',
        );
      } finally {
        c.cleanup();
      }
    } finally {
      a.cleanup();
      b.cleanup();
    }
  },
);

test('a damaged backup is refused before anything is written', { timeout: 30_000 }, async () => {
  const a = tmpDir();
  const b = tmpDir();
  try {
    seed(a.path);
    const full = await createBackup('full', { dataDir: a.path, ...settings });
    put(a.path, 'state/seq.json', '{"conveyor-1":42}');
    const diff = await createBackup('diff', { dataDir: a.path, ...settings });
    // Bit rot in the full's copy of the config: the diff depends on it.
    const victim = join(backupsDirOf(a.path), full.id, 'files', 'gateway.yaml');
    writeFileSync(victim, readFileSync(victim, 'utf8').replace('acme', 'acmf'));
    await assert.rejects(
      restoreBackup({ backupsDir: backupsDirOf(a.path), targetDir: b.path, id: diff.id }),
      (e: unknown) => isBackupError(e) && e.code === 'corrupt' && /gateway\.yaml/.test(e.message),
    );
    assert.deepEqual(readdirSync(b.path), [], 'nothing half-written');
    const r = await runCli([
      'backup',
      'restore',
      diff.id,
      '--data-dir',
      b.path,
      '--from',
      backupsDirOf(a.path),
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /damaged, nothing restored: gateway\.yaml: sha256/);
    assert.deepEqual(readdirSync(b.path), []);
    const missing = await runCli([
      'backup',
      'restore',
      '20200101T000000000Z-full',
      '--data-dir',
      a.path,
    ]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /not found/);
  } finally {
    a.cleanup();
    b.cleanup();
  }
});

test(
  'retention deletes exactly the backups older than retentionDays, keeping the last full and the bases of kept diffs',
  { timeout: 30_000 },
  async () => {
    const a = tmpDir();
    try {
      seed(a.path);
      const now = new Date('2026-11-22T12:00:00Z');
      const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);
      const made: Record<string, string> = {};
      let n = 0;
      for (const [name, kind, age] of [
        ['full100', 'full', 100],
        ['diff99', 'diff', 99],
        ['full95', 'full', 95],
        ['diff91', 'diff', 91],
        ['diff10', 'diff', 10],
        ['full5', 'full', 5],
        ['diff1', 'diff', 1],
      ] as const) {
        put(a.path, 'state/seq.json', `{"n":${n++}}`); // every diff has something to hold
        made[name] = (
          await createBackup(kind, { dataDir: a.path, ...settings, now: daysAgo(age) })
        ).id;
      }
      const before = (await listBackups(backupsDirOf(a.path))).map((m) => m.id);
      assert.equal(before.length, 7);
      const r = await pruneBackups(backupsDirOf(a.path), 90, now);
      assert.deepEqual(r.deleted.sort(), [made.full100, made.diff99, made.diff91].sort());
      const after = (await listBackups(backupsDirOf(a.path))).map((m) => m.id);
      // full95 is old but diff10 (kept) is built on it.
      assert.deepEqual(after, [made.full95, made.diff10, made.full5, made.diff1]);
      // Much later: everything is old, but the newest full stays.
      const later = await pruneBackups(backupsDirOf(a.path), 90, daysAgo(-400));
      assert.deepEqual(later.deleted.sort(), [made.full95, made.diff10, made.diff1].sort());
      assert.deepEqual(
        (await listBackups(backupsDirOf(a.path))).map((m) => m.id),
        [made.full5],
      );
    } finally {
      a.cleanup();
    }
  },
);
