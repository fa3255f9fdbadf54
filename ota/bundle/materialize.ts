// Build a bundle's resulting tree in a directory: base files copied, patches applied, full files gunzipped,
// every resulting file re-hashed against the manifest. Used by the device installer and the publisher.
import {
  copyFileSync,
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
  existsSync,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { OtaRefusal } from '../errors.js';
import { sourcesOf, type Manifest } from './manifest.js';
import type { ReadPayloadEntry } from './bundle-file.js';
import { scanTree, sha256File, treeSha256 } from './tree.js';
import { xdeltaDecodeFiles } from './xdelta.js';

/** Check the tar's payload entries against the manifest's list: same set, sizes and hashes. */
export function checkPayload(m: Manifest, payload: Map<string, ReadPayloadEntry>): void {
  const announced = new Map(m.payload.map((p) => [p.path, p]));
  for (const [path, got] of payload) {
    const want = announced.get(path);
    if (!want) throw new OtaRefusal('unsafe-path', `tar entry ${path} is not in the manifest`);
    if (got.size !== want.size)
      throw new OtaRefusal(
        got.size > want.size ? 'too-large' : 'size-mismatch',
        `payload ${path}: ${got.size} bytes, manifest says ${want.size}`,
      );
    if (got.sha256 !== want.sha256)
      throw new OtaRefusal('hash-mismatch', `payload ${path}: sha256 differs from the manifest`);
  }
  for (const p of m.payload)
    if (!payload.has(p.path))
      throw new OtaRefusal('size-mismatch', `payload ${p.path} is missing from the bundle`);
}

/** Largest gunzipped file accepted; bounded by the manifest's announced size anyway. */
function gunzipBounded(buf: Buffer, size: number, path: string): Buffer {
  let out: Buffer;
  try {
    // One byte of headroom: zlib rejects an output that merely reaches the limit.
    out = gunzipSync(buf, { maxOutputLength: size + 1 });
  } catch {
    throw new OtaRefusal(
      'size-mismatch',
      `file ${path}: content is larger than the ${size} bytes announced or not gzip`,
    );
  }
  if (out.length > size)
    throw new OtaRefusal(
      'size-mismatch',
      `file ${path}: content is larger than the ${size} bytes announced`,
    );
  return out;
}

/**
 * Write the resulting tree into `outDir` (which must be empty or absent). `baseDir` is the tree a
 * delta applies to. Every written file is fsynced and re-hashed.
 */
export async function materialize(
  m: Manifest,
  payload: Map<string, ReadPayloadEntry>,
  outDir: string,
  baseDir?: string,
): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const sources = sourcesOf(m);
  for (const f of m.files) {
    const dest = join(outDir, f.path);
    mkdirSync(dirname(dest), { recursive: true });
    const src = sources.get(f.path)!;
    const carried = src.entry ? payload.get(src.entry) : undefined;
    if (src.from !== 'base' && !carried)
      throw new OtaRefusal('size-mismatch', `payload ${src.entry} is missing from the bundle`);
    if (src.from === 'full') {
      const entry = carried!;
      writeFileSync(dest, gunzipBounded(readFileSync(entry.file), f.size, f.path));
    } else {
      if (!baseDir) throw new OtaRefusal('base-mismatch', `file ${f.path} needs a base tree`);
      const base = join(baseDir, f.path);
      if (!existsSync(base) || !statSync(base).isFile())
        throw new OtaRefusal(
          'base-mismatch',
          `file ${f.path} is not in the base tree: the full bundle is needed`,
        );
      if (src.from === 'base') copyFileSync(base, dest);
      else {
        await xdeltaDecodeFiles(base, carried!.file, dest).catch(() => {
          throw new OtaRefusal('hash-mismatch', `file ${f.path}: patch does not apply to the base`);
        });
      }
    }
    chmodSync(dest, f.mode);
    fsyncPath(dest);
  }
  // Re-hash after writing: what is on disk is what was signed.
  for (const f of m.files) {
    const dest = join(outDir, f.path);
    const size = statSync(dest).size;
    if (size !== f.size)
      throw new OtaRefusal(
        'size-mismatch',
        `file ${f.path}: ${size} bytes written, manifest says ${f.size}`,
      );
    if ((await sha256File(dest)) !== f.sha256)
      throw new OtaRefusal('hash-mismatch', `file ${f.path}: sha256 differs from the manifest`);
  }
  // The whole tree, as the manifest's signed treeSha256 names it: no file missing, none extra, modes
  // included (recorded in the slot, and what a later delta's base is checked against).
  const tree = treeSha256(await scanTree(outDir));
  if (tree !== m.treeSha256)
    throw new OtaRefusal(
      'tree-mismatch',
      `installed tree hashes to ${tree.slice(0, 12)}, manifest says ${m.treeSha256.slice(0, 12)}`,
    );
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
