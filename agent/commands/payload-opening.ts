// The first step of a `cmd` payload: a compact JWS is verified against the trust authority (a
// signature problem becomes the command's rejection reason); plain JSON is taken only with
// commands.requireSignature false. The id is handed back as soon as it can be read, so even a
// rejection names the command it answers.
import { createHash } from 'node:crypto';
import { isSignatureError } from '../../platform/signature/errors.js';
import { looksLikeCompactJws } from '../../platform/signature/verify-jws.js';
import type { TrustAuthority } from '../trust/trust-authority.js';
import { parseJsonObject, peekId, readUnverified } from './claims.js';
import { RejectedError, fromSignatureError } from './rejection.js';

export interface OpenedPayload {
  /** The signer; null for plain JSON. */
  kid: string | null;
  doc: Record<string, unknown>;
  /** sha256 of the payload: a replayed id with another payload is told apart by it. */
  hash: string;
}

/** JWS → verified payload; or, with requireSignature false, plain JSON. Throws RejectedError. */
export async function openPayload(
  text: string,
  o: { trust: TrustAuthority; requireSignature: boolean; nowSeconds: number },
  setId: (id: string | number | null) => void,
): Promise<OpenedPayload> {
  if (looksLikeCompactJws(text)) {
    setId(peekId(readUnverified(text)));
    const v = await o.trust
      .verify(text, 'commands', { nowSeconds: o.nowSeconds })
      .catch((e: unknown) => {
        throw isSignatureError(e) ? fromSignatureError(e) : e;
      });
    return {
      kid: v.kid as string | null,
      doc: parseJsonObject(v.payload),
      hash: sha256(v.payload),
    };
  }
  const doc = parseJsonObject(text);
  setId(peekId(doc));
  if (o.requireSignature)
    throw new RejectedError(
      'unsigned',
      undefined,
      'commands must be a compact JWS (commands.requireSignature is true)',
    );
  return { kid: null, doc, hash: sha256(text) };
}

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
