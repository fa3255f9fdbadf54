// Publisher side: build full and delta bundles. Same input and options → same bytes (EdDSA signs deterministically).
// A delta carries its manifest as an xdelta3 patch against the base tree's listing, which the device
// computes from its own slot: unchanged files cost the delta nothing, not even their hashes.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { JWK } from 'jose';
import { MANIFEST_FORMAT, manifestSchema, payloadPathOf, type Manifest } from './manifest.js';
import { detachSignature, signManifest } from './signing.js';
import { byPath, listingBytes, scanTree, sha256, treeSha256, type TreeFile } from './tree.js';
import {
  writeBundle,
  readBundle,
  resolveManifest,
  MANIFEST_ENTRY,
  MANIFEST_PATCH_ENTRY,
  type BundleEntry,
} from './bundle-file.js';
import { xdeltaEncode } from './xdelta.js';
import { materialize, checkPayload } from './materialize.js';
import { decodeManifestUnverified } from './signing.js';
import { PLC_MAP_FILES, parsePlcMap } from '../plc-map/plc-map.js';
import { OtaRefusal } from '../errors.js';
import { byteCounter, type OnProgress } from '../../platform/progress.js';

export interface PackOptions {
  name: string;
  version: string;
  counter: number;
  target: 'agent' | 'plc-map';
  privateJwk: JWK;
  iat: number;
  exp: number;
  requires?: { image?: string; deviceTypes?: string[] };
  rollout?: { ring?: string[]; percentage?: number };
  url?: string;
  /** Where the full bundle of this release is served (a delta's fallback). */
  fullUrl?: string;
  /** The signed "switch now" of CONTRACT.md §8: the switch does not wait for a maintenance window. */
  now?: boolean;
  /** Long work (hashing, compressing, diffing a big tree) reports here; the CLI draws it. */
  onProgress?: OnProgress;
}

export interface PackResult {
  manifest: Manifest;
  /** The signed manifest as a compact JWS: what an `ota/offer` carries. */
  jws: string;
  bytes: number;
}

function gz(buf: Buffer): Buffer {
  return gzipSync(buf, { level: 9 });
}

function checkTarget(files: TreeFile[], dir: string, target: PackOptions['target']): void {
  if (target !== 'plc-map') return;
  const f = files[0];
  if (files.length !== 1 || !f || !(PLC_MAP_FILES as readonly string[]).includes(f.path))
    throw new OtaRefusal(
      'bad-manifest',
      `a plc-map bundle holds exactly one file named ${PLC_MAP_FILES.join(' or ')}`,
    );
  parsePlcMap(readFileSync(join(dir, f.path), 'utf8'), f.path);
}

async function finish(
  opts: PackOptions,
  tree: TreeFile[],
  removed: string[],
  payload: BundleEntry[],
  base: { version: string; tree: TreeFile[] } | undefined,
  outFile: string,
): Promise<PackResult> {
  const manifest: Manifest = manifestSchema.parse({
    format: MANIFEST_FORMAT,
    name: opts.name,
    version: opts.version,
    counter: opts.counter,
    kind: base ? 'delta' : 'full',
    target: opts.target,
    ...(base ? { base: { version: base.version, treeSha256: treeSha256(base.tree) } } : {}),
    treeSha256: treeSha256(tree),
    files: tree.map(({ path, size, mode, sha256 }) => ({ path, size, mode, sha256 })),
    removed,
    payload: payload
      .map((p) => ({ path: p.path, size: p.data.length, sha256: sha256(p.data) }))
      .sort(byPath),
    requires: opts.requires ?? {},
    ...(opts.rollout ? { rollout: opts.rollout } : {}),
    ...(opts.url ? { url: opts.url } : {}),
    ...(opts.fullUrl ? { fullUrl: opts.fullUrl } : {}),
    ...(opts.now ? { now: true } : {}),
    iat: opts.iat,
    exp: opts.exp,
  });
  const jws = await signManifest(manifest, opts.privateJwk);
  const { json } = detachSignature(jws);
  let head: BundleEntry = { path: MANIFEST_ENTRY, data: json };
  if (base) {
    const patch = await xdeltaEncode(listingBytes(base.tree), json);
    if (patch.length < json.length) head = { path: MANIFEST_PATCH_ENTRY, data: patch };
  }
  writeBundle(head, jws, payload, outFile);
  return { manifest, jws, bytes: readFileSync(outFile).length };
}

/** A full bundle of every file under `dir` (node_modules and .git excluded). */
export async function packFull(
  dir: string,
  opts: PackOptions,
  outFile: string,
): Promise<PackResult> {
  const tree = await scanTree(dir, opts.onProgress);
  checkTarget(tree, dir, opts.target);
  const compressed = byteCounter(
    'compressing',
    tree.map((f) => f.size),
    opts.onProgress,
  );
  const payload = tree.map((f) => {
    const data = gz(readFileSync(join(dir, f.path)));
    compressed(f.size);
    return { path: payloadPathOf(f.path, 'full'), data };
  });
  return finish(opts, tree, [], payload, undefined, outFile);
}

/** A delta from `base` (a directory or a full bundle file) to `newDir`: xdelta3 patches where smaller than gzip. */
export async function packDelta(
  base: string,
  newDir: string,
  opts: PackOptions & { baseVersion: string },
  outFile: string,
): Promise<PackResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'ota-base-'));
  try {
    const baseDir =
      base.endsWith('.bundle') || base.endsWith('.tar') ? await extractFullTree(base, tmp) : base;
    const baseTree = await scanTree(baseDir, opts.onProgress, 'hashing base');
    const baseByPath = new Map(baseTree.map((f) => [f.path, f]));
    const tree = await scanTree(newDir, opts.onProgress);
    checkTarget(tree, newDir, opts.target);
    const payload: BundleEntry[] = [];
    const diffed = byteCounter(
      'diffing',
      tree.map((f) => f.size),
      opts.onProgress,
    );
    for (const f of tree) {
      diffed(f.size);
      const b = baseByPath.get(f.path);
      if (b && b.sha256 === f.sha256 && b.mode === f.mode) continue; // copied from the base on the device
      const data = readFileSync(join(newDir, f.path));
      const full = gz(data);
      const patch = b ? await xdeltaEncode(readFileSync(join(baseDir, f.path)), data) : undefined;
      payload.push(
        patch && patch.length < full.length
          ? { path: payloadPathOf(f.path, 'patch'), data: patch }
          : { path: payloadPathOf(f.path, 'full'), data: full },
      );
    }
    const newPaths = new Set(tree.map((f) => f.path));
    const removed = baseTree.filter((f) => !newPaths.has(f.path)).map((f) => f.path);
    return await finish(
      opts,
      tree,
      removed,
      payload,
      { version: opts.baseVersion, tree: baseTree },
      outFile,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Publisher convenience: the tree of a full bundle, to use as a delta base (signature not checked here). */
export async function extractFullTree(bundle: string, dir: string): Promise<string> {
  const opened = await readBundle(bundle, {
    maxBytes: Number.MAX_SAFE_INTEGER,
    extractDir: join(dir, 'payload'),
  });
  const m = manifestSchema.parse(
    decodeManifestUnverified(await resolveManifest(opened, undefined)).manifest,
  );
  if (m.kind !== 'full')
    throw new OtaRefusal(
      'bad-manifest',
      `${bundle}: a delta base must be a full bundle or a directory`,
    );
  checkPayload(m, opened.payload);
  await materialize(m, opened.payload, join(dir, 'tree'));
  return join(dir, 'tree');
}
