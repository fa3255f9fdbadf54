// Verify a compact JWS against the key set: the header's kid picks the key, the key's pinned algs bound the header's alg.
import { compactVerify, decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import type { KeySet } from './key-set.js';
import { RejectedError } from './rejection.js';

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;

export interface VerifiedJws {
  kid: string;
  alg: string;
  header: ProtectedHeaderParameters;
  payload: Uint8Array;
}

export function looksLikeCompactJws(text: string): boolean {
  return COMPACT_JWS.test(text);
}

/** Throws RejectedError (malformed, unknown-key, bad-alg, bad-signature). */
export async function verifyCompactJws(text: string, keys: KeySet): Promise<VerifiedJws> {
  if (!looksLikeCompactJws(text))
    throw new RejectedError('malformed', undefined, 'not a compact JWS (header.payload.signature)');
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(text);
  } catch {
    throw new RejectedError('malformed', 'header', 'JWS header is not base64url JSON');
  }
  if (typeof header.kid !== 'string' || header.kid === '')
    throw new RejectedError('unknown-key', undefined, 'the JWS header has no kid');
  const pinned = keys.get(header.kid);
  if (!pinned)
    throw new RejectedError('unknown-key', header.kid, 'no key with this kid in commands.keys');
  if (typeof header.alg !== 'string' || !pinned.algs.includes(header.alg))
    throw new RejectedError(
      'bad-alg',
      String(header.alg),
      `key ${pinned.kid} only verifies ${pinned.algs.join('/')}`,
    );
  try {
    const res = await compactVerify(text, pinned.key, { algorithms: [...pinned.algs] });
    return { kid: pinned.kid, alg: header.alg, header: res.protectedHeader, payload: res.payload };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED')
      throw new RejectedError(
        'bad-signature',
        pinned.kid,
        'signature does not verify with this key',
      );
    throw new RejectedError('malformed', undefined, `JWS rejected: ${(e as Error).message}`);
  }
}
