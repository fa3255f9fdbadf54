// The one JWS verifier of the gateway: commands, remote config, OTA manifests and trust policies all go
// through verifyCompactJws. The header's kid picks the key; the key's pinned algs bound the header's alg.
import { compactVerify, decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
import type { KeyResolver } from './key-ring.js';
import { SignatureError } from './errors.js';

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

/** The protected header without verifying anything (to name the kid in a refusal). */
export function peekHeader(text: string): ProtectedHeaderParameters | undefined {
  try {
    return decodeProtectedHeader(text);
  } catch {
    return undefined;
  }
}

/** The payload bytes without verifying anything: only ever used to name what is refused. */
export function peekPayload(text: string): Buffer | undefined {
  const p = text.split('.')[1];
  return p === undefined ? undefined : Buffer.from(p, 'base64url');
}

/** Throws SignatureError: malformed, unknown-key, bad-alg, bad-signature. */
export async function verifyCompactJws(text: string, keys: KeyResolver): Promise<VerifiedJws> {
  if (!looksLikeCompactJws(text))
    throw new SignatureError(
      'malformed',
      undefined,
      'not a compact JWS (header.payload.signature)',
    );
  const header = peekHeader(text);
  if (!header) throw new SignatureError('malformed', undefined, 'JWS header is not base64url JSON');
  if (typeof header.kid !== 'string' || header.kid === '')
    throw new SignatureError('unknown-key', undefined, 'the JWS header has no kid');
  const pinned = keys.get(header.kid);
  if (!pinned) throw new SignatureError('unknown-key', header.kid, `no key with kid ${header.kid}`);
  if (typeof header.alg !== 'string' || !pinned.algs.includes(header.alg))
    throw new SignatureError(
      'bad-alg',
      pinned.kid,
      `alg ${String(header.alg)}: key ${pinned.kid} only verifies ${pinned.algs.join('/')}`,
    );
  try {
    const res = await compactVerify(text, pinned.key, { algorithms: [...pinned.algs] });
    return { kid: pinned.kid, alg: header.alg, header: res.protectedHeader, payload: res.payload };
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED')
      throw new SignatureError(
        'bad-signature',
        pinned.kid,
        `signature does not verify with key ${pinned.kid}`,
      );
    throw new SignatureError('malformed', pinned.kid, `JWS rejected: ${(e as Error).message}`);
  }
}
