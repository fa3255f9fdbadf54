// The signed manifest of an OTA bundle (docs/ota.md §Format). The schema is the one source of truth.
import { z } from 'zod';
import semver from 'semver';

export const MANIFEST_FORMAT = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits (sha256)');

/** A relative POSIX path inside a slot: no '..', no absolute path, no backslash, no empty segment. */
export const slotPath = z
  .string()
  .min(1)
  .max(255)
  .refine((p) => isSafeRelativePath(p), 'must be a relative path inside the slot (no .., no /)');

export function isSafeRelativePath(p: string): boolean {
  if (p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

const semverString = z.string().refine((v) => semver.valid(v) === v, 'must be a semver version');
const semverRange = z
  .string()
  .refine((r) => semver.validRange(r) !== null, 'must be a semver range');

export const fileSchema = z.strictObject({
  path: slotPath,
  size: z.number().int().min(0),
  mode: z
    .number()
    .int()
    .refine((m) => m === 0o644 || m === 0o755, 'must be 420 (0644) or 493 (0755)'),
  sha256,
});

export const payloadEntrySchema = z.strictObject({
  path: z
    .string()
    .regex(/^(full\/.+\.gz|patch\/.+\.xd3)$/, 'must be full/<path>.gz or patch/<path>.xd3'),
  size: z.number().int().min(0),
  sha256,
});

export const manifestSchema = z
  .strictObject({
    format: z.literal(MANIFEST_FORMAT),
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 of letters, digits, _ . -'),
    version: semverString,
    counter: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    kind: z.enum(['full', 'delta']),
    target: z.enum(['agent', 'plc-map']),
    base: z.strictObject({ version: semverString, treeSha256: sha256 }).optional(),
    treeSha256: sha256,
    files: z.array(fileSchema).max(100_000),
    removed: z.array(slotPath).default([]),
    payload: z.array(payloadEntrySchema).max(100_000),
    requires: z
      .strictObject({
        image: semverRange.optional(),
        deviceTypes: z.array(z.string().min(1)).optional(),
      })
      .prefault({}),
    rollout: z
      .strictObject({
        ring: z.array(z.string().min(1)).optional(),
        percentage: z.number().min(0).max(100).optional(),
      })
      .optional(),
    url: z.url().optional(),
    /** A delta's full bundle: what a device whose base differs fetches instead. */
    fullUrl: z.url().optional(),
    /** Switch at once, not in the next maintenance window (signed, so only an ota key can ask). */
    now: z.boolean().optional(),
    iat: z.number().int().min(0),
    exp: z.number().int().min(0),
  })
  .superRefine((m, ctx) => {
    if ((m.kind === 'delta') !== (m.base !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['base'],
        message: 'required for delta, absent for full',
      });
    const files = new Set(m.files.map((f) => f.path));
    const carried = new Set<string>();
    for (const p of m.payload) {
      const { file } = payloadSource(p.path);
      if (!files.has(file) || carried.has(file))
        ctx.addIssue({
          code: 'custom',
          path: ['payload'],
          message: `${p.path}: not one entry per listed file`,
        });
      carried.add(file);
    }
    if (m.kind === 'full' && m.payload.some((p) => payloadSource(p.path).from !== 'full'))
      ctx.addIssue({
        code: 'custom',
        path: ['payload'],
        message: 'a full bundle carries only full/ entries',
      });
    if (m.kind === 'full' && carried.size !== files.size)
      ctx.addIssue({
        code: 'custom',
        path: ['payload'],
        message: 'a full bundle carries every file',
      });
    if (m.exp <= m.iat)
      ctx.addIssue({ code: 'custom', path: ['exp'], message: 'must be after iat' });
    const seen = new Set<string>();
    for (const f of m.files) {
      if (seen.has(f.path))
        ctx.addIssue({ code: 'custom', path: ['files'], message: `duplicate path ${f.path}` });
      seen.add(f.path);
    }
  });

export type Manifest = z.output<typeof manifestSchema>;
export type ManifestFile = z.output<typeof fileSchema>;

export type Source = 'full' | 'patch' | 'base';

/** Tar entry that carries a file's bytes: full/<path>.gz (gzip'd copy) or patch/<path>.xd3 (xdelta3). */
export function payloadPathOf(path: string, from: Exclude<Source, 'base'>): string {
  return from === 'full' ? `full/${path}.gz` : `patch/${path}.xd3`;
}

export function payloadSource(entry: string): { file: string; from: Exclude<Source, 'base'> } {
  if (entry.startsWith('full/') && entry.endsWith('.gz'))
    return { file: entry.slice(5, -3), from: 'full' };
  if (entry.startsWith('patch/') && entry.endsWith('.xd3'))
    return { file: entry.slice(6, -4), from: 'patch' };
  return { file: '', from: 'full' };
}

/** How each file is obtained: carried in full, patched, or (delta only) copied from the base unchanged. */
export function sourcesOf(m: Manifest): Map<string, { from: Source; entry?: string }> {
  const out = new Map<string, { from: Source; entry?: string }>(
    m.files.map((f) => [f.path, { from: 'base' }]),
  );
  for (const p of m.payload) {
    const s = payloadSource(p.path);
    out.set(s.file, { from: s.from, entry: p.path });
  }
  return out;
}

/** Upper bound of the bundle's size from its manifest: what a download may never exceed. */
export function bundleByteBound(m: Manifest, manifestJwsBytes: number): number {
  // Each entry: a 512-byte header, a possible pax header (2 blocks), and content padded to 512;
  // manifest.json and manifest.sig are each shorter than the compact JWS. gzip adds < 0.1% + headers.
  const entry = (size: number) => 1536 + Math.ceil(size / 512) * 512;
  const tar =
    10240 + 2 * entry(manifestJwsBytes) + m.payload.reduce((n, p) => n + entry(p.size), 0);
  return Math.ceil(tar * 1.001) + 1024;
}
