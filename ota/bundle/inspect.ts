// `ota inspect` and `ota verify`: read a bundle, show or check its manifest and payload.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { readBundle, resolveManifest } from './bundle-file.js';
import { extractFullTree } from './pack.js';
import { type Manifest } from './manifest.js';
import { checkPayload, materialize } from './materialize.js';
import { decodeManifestUnverified, verifyManifest } from './signing.js';

export async function inspectBundle(file: string, json: boolean, base?: string): Promise<string> {
  const opened = await readBundle(file, { maxBytes: Number.MAX_SAFE_INTEGER });
  const jws = await withBase(base, (dir) => resolveManifest(opened, dir));
  const { kid, alg, manifest } = decodeManifestUnverified(jws);
  if (json)
    return (
      JSON.stringify({ kid, alg, manifestEntry: opened.head.path, manifest, jws }, null, 2) + '\n'
    );
  const m = manifest as Partial<Manifest>;
  const lines = [
    `bundle   ${file}`,
    `name     ${m.name} ${m.version} (counter ${m.counter}), ${m.kind} ${m.target}${m.base ? `, base ${m.base.version} tree ${m.base.treeSha256}` : ''}`,
    `signed   ${alg} by kid ${kid} (not verified: use ota verify)`,
    `valid    ${iso(m.iat)} → ${iso(m.exp)}`,
    `requires image ${m.requires?.image ?? 'any'}, device types ${m.requires?.deviceTypes?.join(', ') ?? 'any'}`,
    `rollout  ${m.rollout ? `rings ${m.rollout.ring?.join(', ') ?? 'any'}, ${m.rollout.percentage ?? 100}%` : 'everyone'}`,
    `tree     ${m.treeSha256}`,
    `files    ${m.files?.length ?? 0} (${m.payload?.length ?? 0} carried), removed ${m.removed?.length ?? 0}; manifest as ${opened.head.path}`,
    ...(m.payload ?? []).map((p) => `  ${String(p.size).padStart(10)}  ${p.path}`),
  ];
  return lines.join('\n') + '\n';
}

function iso(s: number | undefined): string {
  return s === undefined ? '?' : new Date(s * 1000).toISOString();
}

/** Signature, validity, tar safety, payload hashes; for full bundles also every resulting file. */
export async function verifyBundleFile(
  file: string,
  keys: JWK[],
  base?: string,
): Promise<Manifest> {
  const dir = mkdtempSync(join(tmpdir(), 'ota-verify-'));
  try {
    const opened = await readBundle(file, {
      maxBytes: Number.MAX_SAFE_INTEGER,
      extractDir: join(dir, 'payload'),
    });
    return await withBase(base, async (baseDir) => {
      const m = await verifyManifest(await resolveManifest(opened, baseDir), { keys });
      checkPayload(m, opened.payload);
      if (m.kind === 'full' || baseDir)
        await materialize(m, opened.payload, join(dir, 'tree'), baseDir);
      return m;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A base given as a directory or a full bundle (extracted to a temporary tree). */
async function withBase<T>(
  base: string | undefined,
  fn: (dir: string | undefined) => Promise<T>,
): Promise<T> {
  if (!base || !base.endsWith('.bundle')) return fn(base);
  const tmp = mkdtempSync(join(tmpdir(), 'ota-base-'));
  try {
    return await fn(await extractFullTree(base, tmp));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
