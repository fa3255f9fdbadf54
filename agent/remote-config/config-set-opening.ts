// The first step of a `config/set` payload: a compact JWS is verified against whoever may sign
// configs (role config), refusing a kid no key has before any costly work; plain YAML/JSON is taken
// only with commands.requireSignature false.
import { isSignatureError } from '../../platform/signature/errors.js';
import { looksLikeCompactJws } from '../../platform/signature/verify-jws.js';
import type { TrustAuthority } from '../trust/trust-authority.js';
import { RejectedError, fromSignatureError } from '../commands/rejection.js';

export interface ConfigSetOpening {
  /** The trust authority in force (asked only for a JWS). */
  authority(): Promise<TrustAuthority>;
  requireSignature: boolean;
  /** Epoch ms, read when the signature's times are checked. */
  now(): number;
}

/** The signer (null for an unsigned payload) and the payload bytes. Throws RejectedError. */
export async function openConfigSet(
  text: string,
  o: ConfigSetOpening,
): Promise<{ kid: string | null; payload: Uint8Array }> {
  const header = peekJwsHeader(text);
  if (header && looksLikeCompactJws(text)) {
    const trust = await o.authority();
    // Cheap first: a kid no config key has is refused before the 1 MB shape check and any hashing
    // (a flood of junk JWS). A revoked kid goes on, to be refused by name.
    const kid = header.kid;
    if (typeof kid !== 'string' || (!trust.isRevoked(kid) && !trust.resolverFor('config').get(kid)))
      throw new RejectedError(
        'unknown-key',
        typeof kid === 'string' ? kid : undefined,
        'no key with this kid may sign config/set',
      );
    try {
      const v = await trust.verify(text, 'config', { nowSeconds: o.now() / 1000 });
      return { kid: v.kid, payload: v.payload };
    } catch (e) {
      throw isSignatureError(e) ? fromSignatureError(e) : e;
    }
  }
  if (o.requireSignature)
    throw new RejectedError(
      'unsigned',
      undefined,
      'config/set must be a compact JWS (commands.requireSignature is true)',
    );
  return { kid: null, payload: Buffer.from(text) };
}

/** The protected header of what looks like a compact JWS (first segment only, bounded), else undefined. */
function peekJwsHeader(text: string): Record<string, unknown> | undefined {
  const dot = text.indexOf('.');
  if (dot <= 0 || dot > 4096 || !/^[A-Za-z0-9_-]+$/.test(text.slice(0, dot))) return undefined;
  try {
    const h: unknown = JSON.parse(Buffer.from(text.slice(0, dot), 'base64url').toString('utf8'));
    return h && typeof h === 'object' && !Array.isArray(h)
      ? (h as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
