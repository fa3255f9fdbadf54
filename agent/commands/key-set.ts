// The public keys allowed to sign commands and remote config, each pinned to the algorithms its type permits.
// Pinning per key is what prevents algorithm confusion: a header can only choose among the key's own algs.
import { calculateJwkThumbprint, importJWK, type CryptoKey, type JWK } from 'jose';

export class KeyError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'KeyError';
  }
}

export function isKeyError(e: unknown): e is KeyError {
  return e instanceof KeyError;
}

export interface PinnedKey {
  kid: string;
  /** JWS `alg` header values this key verifies; anything else is refused. */
  algs: readonly string[];
  key: CryptoKey;
}

/** Algorithms by key type/curve. HMAC (oct) and RSA are deliberately absent. */
function algsFor(jwk: Record<string, unknown>): string[] | undefined {
  if (jwk.kty === 'EC')
    return { 'P-256': ['ES256'], 'P-384': ['ES384'], 'P-521': ['ES512'] }[String(jwk.crv)];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return ['EdDSA', 'Ed25519'];
  return undefined;
}

export class KeySet {
  private constructor(private readonly byKid: Map<string, PinnedKey>) {}

  /** Import the JWKs; `path` names the config field in errors (e.g. commands.keys). Throws KeyError. */
  static async load(
    jwks: readonly Record<string, unknown>[],
    path = 'commands.keys',
  ): Promise<KeySet> {
    const byKid = new Map<string, PinnedKey>();
    for (const [i, jwk] of jwks.entries()) {
      const at = `${path}.${i}`;
      if ('d' in jwk) throw new KeyError(at, 'is a private key; configure only the public part');
      const typeAlgs = algsFor(jwk);
      if (!typeAlgs)
        throw new KeyError(
          at,
          `unsupported key type ${String(jwk.kty)}/${String(jwk.crv)} (use EC P-256 or OKP Ed25519)`,
        );
      let algs = typeAlgs;
      if (jwk.alg !== undefined) {
        if (typeof jwk.alg !== 'string' || !typeAlgs.includes(jwk.alg))
          throw new KeyError(
            at,
            `alg ${String(jwk.alg)} does not fit a ${String(jwk.kty)} ${String(jwk.crv)} key (${typeAlgs.join(' or ')})`,
          );
        // EdDSA and Ed25519 name the same signature; keep both spellings usable.
        algs = typeAlgs.length > 1 && jwk.kty === 'OKP' ? typeAlgs : [jwk.alg];
      }
      if (jwk.use !== undefined && jwk.use !== 'sig') throw new KeyError(at, `use must be sig`);
      let kid: string;
      let key: CryptoKey;
      try {
        kid = typeof jwk.kid === 'string' ? jwk.kid : await calculateJwkThumbprint(jwk as JWK);
        key = (await importJWK(jwk as JWK, algs[0]!)) as CryptoKey;
      } catch (e) {
        throw new KeyError(at, `not a usable public key: ${(e as Error).message}`);
      }
      if (byKid.has(kid)) throw new KeyError(`${at}.kid`, `duplicate kid "${kid}"`);
      byKid.set(kid, { kid, algs, key });
    }
    return new KeySet(byKid);
  }

  get(kid: string): PinnedKey | undefined {
    return this.byKid.get(kid);
  }

  get size(): number {
    return this.byKid.size;
  }

  /** Every alg some key accepts: the allow-list handed to jose. */
  get algorithms(): string[] {
    return [...new Set([...this.byKid.values()].flatMap((k) => k.algs))];
  }
}
