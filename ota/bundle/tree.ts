// A slot's file tree: every regular file with path, size, mode and sha256, and one hash over all of them.
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { byteCounter, type OnProgress } from '../../platform/progress.js';

export interface TreeFile {
  path: string;
  size: number;
  mode: 0o644 | 0o755;
  sha256: string;
}

/**
 * Top-level names never part of a tree: dependencies come from the image, and `data` is where a
 * development checkout keeps $DATA_DIR (docs/ota.md).
 */
export const TREE_EXCLUDES = new Set(['node_modules', '.git', 'data']);

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function sha256(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Byte-order sort so the same tree always yields the same order on every machine. */
export function byPath(a: { path: string }, b: { path: string }): number {
  return Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
}

export class TreeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TreeError';
  }
}

export function isTreeError(e: unknown): e is TreeError {
  return e instanceof TreeError;
}

export async function scanTree(
  root: string,
  onProgress?: OnProgress,
  phase = 'hashing',
): Promise<TreeFile[]> {
  // List first (cheap), then hash: the hashing is the long part, and its total is then known.
  const listed: Omit<TreeFile, 'sha256'>[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      if (rel === '' && TREE_EXCLUDES.has(name)) continue;
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile())
        listed.push({ path: r, size: st.size, mode: st.mode & 0o111 ? 0o755 : 0o644 });
      else throw new TreeError(`${r}: only regular files and directories can be packed`);
    }
  };
  walk('');
  const hashed = byteCounter(
    phase,
    listed.map((f) => f.size),
    onProgress,
  );
  const out: TreeFile[] = [];
  for (const f of listed) {
    out.push({ ...f, sha256: await sha256File(join(root, f.path)) });
    hashed(f.size);
  }
  return out.sort(byPath);
}

/** sha256 over `mode size sha256 path\n` lines in path order (docs/ota.md §Tree hash). */
export function treeSha256(files: readonly TreeFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort(byPath))
    h.update(`${f.mode.toString(8)} ${f.size} ${f.sha256} ${f.path}\n`);
  return h.digest('hex');
}

/**
 * The base listing a delta's manifest is patched against: JSON of the tree's files exactly as they
 * appear in a manifest's `files`, so unchanged entries match byte for byte.
 */
export function listingBytes(files: readonly TreeFile[]): Buffer {
  return Buffer.from(
    JSON.stringify(
      [...files].sort(byPath).map(({ path, size, mode, sha256 }) => ({ path, size, mode, sha256 })),
    ),
  );
}
