// The bearer token of the HTTP write endpoints: $DATA_DIR/http-token, created 0600 with random content at first start.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const MIN_TOKEN_LENGTH = 16;

export function ensureToken(path: string): string {
  try {
    const t = readFileSync(path, 'utf8').trim();
    if (t.length >= MIN_TOKEN_LENGTH) {
      // Someone may have copied it in with loose rights: the token is a secret.
      if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
      return t;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = randomBytes(32).toString('base64url');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, token + '\n', { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

/** Constant-time check of an Authorization header against the token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}
