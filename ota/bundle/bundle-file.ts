// The bundle container: a gzip'd deterministic tar (fixed order, mtime 0, no owners, mode 0644) of
// manifest.json (the signed bytes), manifest.sig (the detached JWS) and the payload (docs/ota.md §Format).
// Reading treats it as hostile: only regular files under full/ or patch/, every byte counted and hashed.
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  readFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable } from 'node:stream';
import { create, Parser, type ReadEntry } from 'tar';
import { gzipSync } from 'node:zlib';
import { attachSignature, detachSignature } from './signing.js';
import { xdeltaDecode } from './xdelta.js';
import { isOtaRefusal, OtaRefusal } from '../errors.js';
import { isSafeRelativePath } from './manifest.js';
import { byPath, listingBytes, scanTree } from './tree.js';

export const MANIFEST_ENTRY = 'manifest.json';
/** A delta's manifest as an xdelta3 patch against the base tree's listing. */
export const MANIFEST_PATCH_ENTRY = 'manifest.json.xd3';
export const SIGNATURE_ENTRY = 'manifest.sig';
/** Largest manifest.json accepted (bytes). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** The fixed mtime of every entry: the bundle's bytes depend only on its content. */
const EPOCH = new Date(0);

export interface BundleEntry {
  path: string;
  data: Buffer;
}

/** manifest.json, manifest.sig, then the payload entries in byte order of their paths; gzip -9 over all. */
export function writeBundle(
  head: BundleEntry,
  manifestJws: string,
  payload: readonly BundleEntry[],
  outFile: string,
): void {
  const { sig } = detachSignature(manifestJws);
  const dir = mkdtempSync(join(tmpdir(), 'ota-pack-'));
  const tmp = `${outFile}.tmp-${process.pid}`;
  try {
    const entries = [
      head,
      { path: SIGNATURE_ENTRY, data: Buffer.from(sig) },
      ...[...payload].sort(byPath),
    ];
    for (const e of entries) {
      mkdirSync(dirname(join(dir, e.path)), { recursive: true });
      writeFileSync(join(dir, e.path), e.data, { mode: 0o644 });
    }
    create(
      {
        cwd: dir,
        file: tmp,
        sync: true,
        portable: true,
        mtime: EPOCH,
        noDirRecurse: true,
        noPax: false,
      },
      entries.map((e) => e.path),
    );
    // Force 0644 regardless of umask: the tar header carries the staging file's mode.
    // zlib's gzip header has no timestamp or name: the bytes depend on the content only.
    writeFileSync(tmp, gzipSync(normalizeModes(readFileSync(tmp)), { level: 9 }));
    renameSync(tmp, outFile); // never a half-written bundle under the final name
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(tmp, { force: true });
  }
}

/** Rewrite each ustar header's mode field to 0000644 and fix its checksum (umask-independent bytes). */
function normalizeModes(tar: Buffer): Buffer {
  let off = 0;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    h.write('000644 \0', 100, 8, 'ascii');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
    const size = parseInt(h.toString('ascii', 124, 136).replace(/\0.*$/, '').trim() || '0', 8);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return tar;
}

export interface ReadPayloadEntry {
  size: number;
  sha256: string;
  file: string;
}

export interface OpenedBundle {
  /** manifest.json, or the patch of it (manifest.json.xd3) that resolveManifest() applies. */
  head: { path: string; data: Buffer };
  sig: string;
  payload: Map<string, ReadPayloadEntry>;
}

/**
 * The compact JWS of the bundle's manifest. A patched manifest is rebuilt from the listing of
 * `baseDir` (the device's active slot); a base that differs cannot rebuild it: base-mismatch.
 */
export async function resolveManifest(
  b: OpenedBundle,
  baseDir: string | undefined,
): Promise<string> {
  if (b.head.path === MANIFEST_ENTRY) return attachSignature(b.head.data, b.sig);
  if (!baseDir)
    throw new OtaRefusal(
      'base-mismatch',
      'this delta carries its manifest as a patch: the base tree is needed (or the full bundle)',
    );
  let json: Buffer;
  try {
    json = await xdeltaDecode(listingBytes(await scanTree(baseDir)), b.head.data);
  } catch {
    throw new OtaRefusal(
      'base-mismatch',
      'the delta manifest does not apply to this base: the full bundle is needed',
    );
  }
  return attachSignature(json, b.sig);
}

/** Only the manifest (first two entries): for `ota inspect`, offers and early verification. */
export async function readManifestJws(bundleFile: string, baseDir?: string): Promise<string> {
  const b = await readBundle(bundleFile, { maxBytes: Number.MAX_SAFE_INTEGER, manifestOnly: true });
  return resolveManifest(b, baseDir);
}

/**
 * Parse a bundle, writing payload entries under `extractDir` (when given). Refuses links, absolute
 * or escaping paths, entries outside full/ and patch/, duplicates, and more than maxBytes (packed or unpacked).
 */
export async function readBundle(
  bundleFile: string,
  opts: { maxBytes: number; extractDir?: string; manifestOnly?: boolean },
): Promise<OpenedBundle> {
  const size = statSync(bundleFile).size;
  if (size > opts.maxBytes)
    throw new OtaRefusal(
      'too-large',
      `bundle is ${size} bytes, more than the ${opts.maxBytes} allowed`,
    );
  const head: Buffer[] = [];
  let failure: unknown;
  const payload = new Map<string, ReadPayloadEntry>();
  // Paths seen so far, recorded as each header is read: `payload` fills only when an entry is done,
  // so checking it let a duplicate through whenever the first copy was still being written.
  const seen = new Set<string>();
  const pending: Promise<void>[] = [];
  let index = 0;
  let unpacked = 0;
  let headPath = MANIFEST_ENTRY;
  const parser = new Parser({ strict: true });
  const fail = (e: unknown) => {
    failure ??= e;
  };
  parser.on('entry', (entry: ReadEntry) => {
    const i = index++;
    if (failure || (opts.manifestOnly && i > 1)) return void entry.resume();
    try {
      checkEntry(entry, i);
      // Header sizes are known before any byte is written: a gzip bomb stops here.
      unpacked += entry.size;
      if (unpacked > opts.maxBytes)
        throw new OtaRefusal('too-large', `bundle unpacks to more than ${opts.maxBytes} bytes`);
      if (i < 2 && entry.size > MAX_MANIFEST_BYTES)
        throw new OtaRefusal('too-large', `${entry.path} is ${entry.size} bytes`);
    } catch (e) {
      fail(e);
      return void entry.resume();
    }
    if (i === 0) headPath = entry.path;
    if (i < 2) {
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      pending.push(
        new Promise((res) => entry.on('end', () => ((head[i] = Buffer.concat(chunks)), res()))),
      );
      return;
    }
    if (seen.has(entry.path)) {
      fail(new OtaRefusal('duplicate-entry', `tar entry ${entry.path} appears twice`));
      return void entry.resume();
    }
    seen.add(entry.path);
    const h = createHash('sha256');
    let n = 0;
    const file = opts.extractDir ? join(opts.extractDir, entry.path) : '';
    const sink = opts.extractDir
      ? (mkdirSync(dirname(file), { recursive: true }), createWriteStream(file, { mode: 0o600 }))
      : new Writable({ write: (_c, _e, cb) => cb() });
    // One consumer only: a second 'data' listener would drain buffered bytes before the pipe exists.
    const hasher = new Transform({
      transform(c: Buffer, _e, cb) {
        h.update(c);
        n += c.length;
        cb(null, c);
      },
    });
    pending.push(
      pipeline(entry, hasher, sink).then(
        () => void payload.set(entry.path, { size: n, sha256: h.digest('hex'), file }),
        fail,
      ),
    );
  });
  parser.on('warn', (code: string, message: string) =>
    fail(new OtaRefusal('bad-manifest', `bundle tar: ${code} ${message}`)),
  );
  parser.on('error', fail);
  try {
    await pipeline(createReadStream(bundleFile), parser);
  } catch (e) {
    fail(new OtaRefusal('bad-manifest', `bundle is not a readable tar: ${(e as Error).message}`));
  }
  await Promise.all(pending);
  if (failure) {
    // Disk errors stay what they are; anything else the parser or zlib raised means a corrupt bundle.
    if (isOtaRefusal(failure) || (failure as NodeJS.ErrnoException).syscall) throw failure;
    throw new OtaRefusal(
      'bad-manifest',
      `bundle is not a readable tar.gz: ${(failure as Error).message}`,
    );
  }
  if (!head[0] || !head[1])
    throw new OtaRefusal('bad-manifest', `bundle has no ${MANIFEST_ENTRY} and ${SIGNATURE_ENTRY}`);
  return { head: { path: headPath, data: head[0] }, sig: head[1].toString('utf8'), payload };
}

function checkEntry(entry: ReadEntry, index: number): void {
  const p = entry.path;
  if (entry.type !== 'File' && entry.type !== 'OldFile')
    throw new OtaRefusal(
      'unsafe-path',
      `tar entry ${p} is a ${entry.type}${entry.linkpath ? ` to ${entry.linkpath}` : ''}: only regular files are allowed`,
    );
  if (!isSafeRelativePath(p))
    throw new OtaRefusal('unsafe-path', `tar entry "${p}" is absolute or leaves the slot`);
  const want = [[MANIFEST_ENTRY, MANIFEST_PATCH_ENTRY], [SIGNATURE_ENTRY]][index];
  if (want && !want.includes(p))
    throw new OtaRefusal(
      'bad-manifest',
      `tar entry ${index + 1} must be ${want.join(' or ')}, not ${p}`,
    );
  if (index > 1 && !/^(full|patch)\//.test(p))
    throw new OtaRefusal('unsafe-path', `tar entry ${p} is outside full/ and patch/`);
}
