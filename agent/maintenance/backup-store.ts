// Full and differential backups of the data dir under $DATA_DIR/backups/<id>/:
// files/<path> plus manifest.json (sha256 of every file), written last so a backup without one is incomplete.
import { mkdir, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { BackupError } from './errors.js';
import { selectFiles, type Skipped } from './file-select.js';
import { readPaced, sha256, yieldTo, DEFAULT_PACE, type Pace } from './pace.js';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { byteCounter, type OnProgress } from '../../platform/progress.js';

export type BackupKind = 'full' | 'diff';

const relPath = z
  .string()
  .min(1)
  .refine(
    (p) => !p.startsWith('/') && !p.split('/').includes('..') && !p.includes('\0'),
    'must stay inside the data dir',
  );

const manifestSchema = z.object({
  version: z.literal(1),
  id: z.string().regex(/^[0-9TZ]+-(full|diff)(-\d+)?$/),
  kind: z.enum(['full', 'diff']),
  createdAt: z.iso.datetime(),
  base: z.string().optional(),
  files: z.array(
    z.object({
      path: relPath,
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      bytes: z.number().int().min(0),
    }),
  ),
  deleted: z.array(relPath).default([]),
  skipped: z.array(z.object({ rel: z.string(), reason: z.string() })).default([]),
});

export type BackupManifest = z.output<typeof manifestSchema>;

export interface BackupOptions {
  dataDir: string;
  /** Default $DATA_DIR/backups. */
  backupsDir?: string | undefined;
  include: string[];
  exclude: string[];
  maxFileBytes: number;
  pace?: Pace | undefined;
  now?: Date | undefined;
  /** Reading and copying each file (the CLI draws it; the scheduler passes none). */
  onProgress?: OnProgress | undefined;
}

export interface BackupSummary {
  id: string;
  kind: BackupKind;
  createdAt: string;
  base?: string | undefined;
  files: number;
  bytes: number;
}

export const MANIFEST = 'manifest.json';
export const INCOMPLETE_GRACE_MS = 60 * 60 * 1000;

export function backupsDirOf(dataDir: string): string {
  return join(dataDir, 'backups');
}

function idFor(now: Date, kind: BackupKind): string {
  return `${now.toISOString().replace(/[-:.]/g, '')}-${kind}`;
}

export async function readManifest(backupsDir: string, id: string): Promise<BackupManifest> {
  if (!/^[0-9TZ]+-(full|diff)(-\d+)?$/.test(id))
    throw new BackupError(`"${id}" is not a backup id`, 'not-found', id);
  let text: string;
  try {
    text = await readFile(join(backupsDir, id, MANIFEST), 'utf8');
  } catch {
    throw new BackupError(`backup ${id} not found in ${backupsDir}`, 'not-found', id);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new BackupError(`backup ${id}: manifest is not JSON`, 'invalid-manifest', id);
  }
  const res = manifestSchema.safeParse(doc);
  if (!res.success) {
    const i = res.error.issues[0]!;
    throw new BackupError(
      `backup ${id}: manifest ${i.path.join('.')}: ${i.message}`,
      'invalid-manifest',
      id,
    );
  }
  if (res.data.id !== id)
    throw new BackupError(`backup ${id}: manifest names ${res.data.id}`, 'invalid-manifest', id);
  return res.data;
}

/** Complete backups, oldest first (invalid manifests are left out). */
export async function listBackups(backupsDir: string): Promise<BackupManifest[]> {
  let names: string[];
  try {
    names = await readdir(backupsDir);
  } catch {
    return [];
  }
  const out: BackupManifest[] = [];
  for (const n of names.sort()) {
    if (!existsSync(join(backupsDir, n, MANIFEST))) continue;
    try {
      out.push(await readManifest(backupsDir, n));
    } catch {
      // A damaged manifest is reported by verify, not listed as restorable.
    }
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

export function summarize(m: BackupManifest): BackupSummary {
  return {
    id: m.id,
    kind: m.kind,
    createdAt: m.createdAt,
    base: m.base,
    files: m.files.length,
    bytes: m.files.reduce((n, f) => n + f.bytes, 0),
  };
}

/** Make a backup. A diff holds what changed since the last full; with no full yet it becomes a full. */
export async function createBackup(
  kind: BackupKind,
  o: BackupOptions,
): Promise<BackupManifest & { skippedFiles: Skipped[] }> {
  const pace = o.pace ?? DEFAULT_PACE;
  const backupsDir = o.backupsDir ?? backupsDirOf(o.dataDir);
  const now = o.now ?? new Date();
  let base: BackupManifest | undefined;
  if (kind === 'diff') {
    base = (await listBackups(backupsDir)).filter((m) => m.kind === 'full').at(-1);
    if (!base) kind = 'full';
  }
  let id = idFor(now, kind);
  for (let n = 2; existsSync(join(backupsDir, id)); n++) id = `${idFor(now, kind)}-${n}`;
  const dir = join(backupsDir, id);
  await mkdir(join(dir, 'files'), { recursive: true });
  const { files, skipped } = await selectFiles(o.dataDir, o.include, o.exclude, o.maxFileBytes);
  const baseHashes = new Map(base?.files.map((f) => [f.path, f.sha256]));
  const entries: BackupManifest['files'] = [];
  const copied = byteCounter(
    'backing up',
    files.map((f) => f.bytes),
    o.onProgress,
  );
  for (const f of files) {
    const { data, sha256: hash } = await readPaced(f.abs, pace);
    copied(f.bytes);
    if (base && baseHashes.get(f.rel) === hash) continue;
    const t = performance.now();
    await writeFileAtomic(join(dir, 'files', f.rel), data);
    entries.push({ path: f.rel, sha256: hash, bytes: data.length });
    await yieldTo(pace, performance.now() - t);
  }
  const present = new Set(files.map((f) => f.rel));
  const manifest: BackupManifest = {
    version: 1,
    id,
    kind,
    createdAt: now.toISOString(),
    ...(base ? { base: base.id } : {}),
    files: entries,
    deleted: base ? base.files.map((f) => f.path).filter((p) => !present.has(p)) : [],
    skipped,
  };
  await writeFileAtomic(join(dir, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  return { ...manifest, skippedFiles: skipped };
}

/** The files a backup restores (a diff on top of its base), each with where to read it and its hash. */
export async function resolveBackup(
  backupsDir: string,
  id: string,
): Promise<{
  manifest: BackupManifest;
  files: Map<string, { from: string; sha256: string; bytes: number }>;
  deleted: string[];
}> {
  const manifest = await readManifest(backupsDir, id);
  const files = new Map<string, { from: string; sha256: string; bytes: number }>();
  if (manifest.kind === 'diff') {
    if (!manifest.base)
      throw new BackupError(`backup ${id}: a diff without a base`, 'invalid-manifest', id);
    let base: BackupManifest;
    try {
      base = await readManifest(backupsDir, manifest.base);
    } catch (e) {
      throw new BackupError(
        `backup ${id}: its full backup ${manifest.base} is missing or damaged (${(e as Error).message})`,
        'no-base',
        id,
      );
    }
    for (const f of base.files)
      files.set(f.path, {
        from: join(backupsDir, base.id, 'files', f.path),
        sha256: f.sha256,
        bytes: f.bytes,
      });
    for (const p of manifest.deleted) files.delete(p);
  }
  for (const f of manifest.files)
    files.set(f.path, {
      from: join(backupsDir, id, 'files', f.path),
      sha256: f.sha256,
      bytes: f.bytes,
    });
  return { manifest, files, deleted: manifest.deleted };
}

/** Check every file of a backup (and its base) against the manifest. Returns the problems found. */
export async function verifyBackup(
  backupsDir: string,
  id: string,
  pace: Pace = DEFAULT_PACE,
  onProgress?: OnProgress,
): Promise<string[]> {
  const { files } = await resolveBackup(backupsDir, id);
  const problems: string[] = [];
  const checked = byteCounter(
    'verifying',
    [...files.values()].map((f) => f.bytes),
    onProgress,
  );
  for (const [path, f] of files) {
    checked(f.bytes);
    try {
      const { sha256: got } = await readPaced(f.from, pace);
      if (got !== f.sha256)
        problems.push(
          `${path}: sha256 ${got.slice(0, 12)}… differs from the manifest's ${f.sha256.slice(0, 12)}…`,
        );
    } catch (e) {
      problems.push(`${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  return problems;
}

/** Restore a backup into targetDir: every hash is checked before anything is written; each file is written atomically. */
export async function restoreBackup(o: {
  backupsDir: string;
  targetDir: string;
  id: string;
  pace?: Pace | undefined;
  onProgress?: OnProgress | undefined;
}): Promise<{ id: string; files: number; bytes: number; deleted: number }> {
  const pace = o.pace ?? DEFAULT_PACE;
  const { files, deleted } = await resolveBackup(o.backupsDir, o.id);
  const problems = await verifyBackup(o.backupsDir, o.id, pace, o.onProgress);
  if (problems.length)
    throw new BackupError(
      `backup ${o.id} is damaged, nothing restored: ${problems.join('; ')}`,
      'corrupt',
      o.id,
    );
  const target = resolve(o.targetDir);
  let bytes = 0;
  const restored = byteCounter(
    'restoring',
    [...files.values()].map((f) => f.bytes),
    o.onProgress,
  );
  for (const [path, f] of files) {
    restored(f.bytes);
    const dest = resolve(target, path);
    if (!dest.startsWith(target + sep))
      throw new BackupError(
        `backup ${o.id}: ${path} leaves the data dir`,
        'invalid-manifest',
        o.id,
      );
    const data = await readFile(f.from);
    if (sha256(data) !== f.sha256)
      throw new BackupError(`backup ${o.id}: ${path} changed while restoring`, 'corrupt', o.id);
    const t = performance.now();
    await writeFileAtomic(dest, data);
    bytes += data.length;
    await yieldTo(pace, performance.now() - t);
  }
  for (const path of deleted) await unlink(resolve(target, path)).catch(() => undefined);
  return { id: o.id, files: files.size, bytes, deleted: deleted.length };
}

/**
 * Delete backups older than retentionDays, keeping the newest full whatever its age and every full a kept
 * diff depends on; incomplete backups (no manifest) older than an hour go too. Returns the deleted ids.
 */
export async function pruneBackups(
  backupsDir: string,
  retentionDays: number,
  now = new Date(),
): Promise<{ deleted: string[]; bytesFreed: number }> {
  const all = await listBackups(backupsDir);
  const cutoff = now.getTime() - retentionDays * 86_400_000;
  const newestFull = all.filter((m) => m.kind === 'full').at(-1)?.id;
  const old = (m: BackupManifest) => Date.parse(m.createdAt) < cutoff;
  const keep = new Set(all.filter((m) => !old(m)).map((m) => m.id));
  if (newestFull) keep.add(newestFull);
  for (const m of all) if (keep.has(m.id) && m.base) keep.add(m.base);
  const deleted: string[] = [];
  let bytesFreed = 0;
  for (const m of all) {
    if (keep.has(m.id)) continue;
    bytesFreed += m.files.reduce((n, f) => n + f.bytes, 0);
    await rm(join(backupsDir, m.id), { recursive: true, force: true });
    deleted.push(m.id);
  }
  const known = new Set(all.map((m) => m.id));
  for (const n of await readdir(backupsDir).catch(() => [] as string[])) {
    if (known.has(n) || existsSync(join(backupsDir, n, MANIFEST))) continue;
    const st = await stat(join(backupsDir, n)).catch(() => undefined);
    if (st?.isDirectory() && now.getTime() - st.mtimeMs > INCOMPLETE_GRACE_MS) {
      await rm(join(backupsDir, n), { recursive: true, force: true });
      deleted.push(n);
    }
  }
  return { deleted, bytesFreed };
}

/** Verified copies of one data-dir file across backups, newest first (for restoring a corrupted file). */
export async function* copiesOf(
  backupsDir: string,
  rel: string,
): AsyncGenerator<{ id: string; data: Buffer }> {
  for (const m of (await listBackups(backupsDir)).reverse()) {
    try {
      const { files } = await resolveBackup(backupsDir, m.id);
      const f = files.get(rel);
      if (!f) continue;
      const data = await readFile(f.from);
      if (sha256(data) === f.sha256) yield { id: m.id, data };
    } catch {
      // A damaged backup is skipped; an older one may still hold a good copy.
    }
  }
}
