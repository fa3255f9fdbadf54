// Which files of the data dir a backup holds: include/exclude globs, and never a private key.
import { readdir, lstat, open } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/** Glob to RegExp for data-dir relative paths: `**` any depth, `*` within one segment, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const PRIVATE_MARKERS = [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, /"d"\s*:\s*"/];
export const PRIVATE_SNIFF_BYTES = 64 * 1024;

/** A private key never goes into a backup: PEM private keys and JWKs holding "d". */
export async function looksPrivate(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(PRIVATE_SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('latin1');
    return PRIVATE_MARKERS.some((m) => m.test(text));
  } finally {
    await fh.close();
  }
}

export interface SelectedFile {
  /** Relative to the data dir, with / separators. */
  rel: string;
  abs: string;
  bytes: number;
}

export interface Skipped {
  rel: string;
  reason: 'private-key' | 'too-large';
}

export async function selectFiles(
  dataDir: string,
  include: string[],
  exclude: string[],
  maxFileBytes: number,
): Promise<{ files: SelectedFile[]; skipped: Skipped[] }> {
  const inc = include.map(globToRegExp);
  const exc = exclude.map(globToRegExp);
  const files: SelectedFile[] = [];
  const skipped: Skipped[] = [];
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const abs = join(dir, e.name);
      const rel = relative(dataDir, abs).split(sep).join('/');
      if (e.isDirectory()) {
        if (!exc.some((r) => r.test(rel + '/') || r.test(rel))) await walk(abs);
        continue;
      }
      if (!e.isFile()) continue; // symlinks and devices are not config or state
      if (!inc.some((r) => r.test(rel)) || exc.some((r) => r.test(rel))) continue;
      const st = await lstat(abs);
      if (st.size > maxFileBytes) skipped.push({ rel, reason: 'too-large' });
      else if (await looksPrivate(abs)) skipped.push({ rel, reason: 'private-key' });
      else files.push({ rel, abs, bytes: st.size });
    }
  }
  await walk(dataDir);
  files.sort((a, b) => a.rel.localeCompare(b.rel));
  return { files, skipped };
}
