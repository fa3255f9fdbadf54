// Why a signed document was refused, one kebab-case word per cause, the same on every reply topic
// (cmd/ack, config/state, ota/state, trust/state). Callers branch on isSignatureError(e) and e.reason.

export const SIGNATURE_REASONS = [
  'malformed', // not a compact JWS, or its header is not base64url JSON
  'unknown-key', // no kid, or no key with this kid
  'bad-alg', // an alg the key does not verify (alg confusion, none, HMAC)
  'bad-signature', // the signature does not verify with the key its kid names
  'revoked-key', // the trust policy lists the kid as revoked
  'key-expired', // past the delegated key's exp
  'key-not-yet-valid', // before the delegated key's nbf
  'policy-expired', // the trust policy that delegated the key has expired (fail closed)
  'wrong-role', // the key exists but is not delegated this role
  'out-of-scope', // the key has the role but not for this PLC / OTA target
] as const;
export type SignatureReason = (typeof SIGNATURE_REASONS)[number];

export class SignatureError extends Error {
  constructor(
    readonly reason: SignatureReason,
    readonly kid: string | undefined,
    detail: string,
  ) {
    super(detail);
    this.name = 'SignatureError';
  }
}

export function isSignatureError(e: unknown): e is SignatureError {
  return e instanceof SignatureError;
}

/** A configured or delegated public key that cannot be used; `path` names where it came from. */
export class KeyError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path}: ${detail}`);
    this.name = 'KeyError';
  }
}

export function isKeyError(e: unknown): e is KeyError {
  return e instanceof KeyError;
}
