// Public keys by kid, each pinned to the one signature algorithm its type permits: ES256 for EC P-256,
// EdDSA for OKP Ed25519. Nothing else is accepted anywhere (no RSA, no HMAC, no `none`): pinning per
// key is what prevents algorithm confusion, since a JWS header can only choose among its key's algs.
import { calculateJwkThumbprint, importJWK, type CryptoKey, type JWK } from 'jose';
import { KeyError } from './errors.js';

export type SignatureAlg = 'ES256' | 'EdDSA';
export const ACCEPTED_ALGS: readonly SignatureAlg[] = ['ES256', 'EdDSA'];

export interface PinnedKey {
  kid: string;
  /** JWS `alg` header values this key verifies ("Ed25519" is the newer name of EdDSA over Ed25519). */
  algs: readonly string[];
  key: CryptoKey;
  /** The public JWK as given (never has `d`). */
  jwk: Readonly<Record<string, unknown>>;
}

/** What the verifier needs: a key by kid. A KeyRing fits; so does the trust authority. */
export interface KeyResolver {
  get(kid: string): PinnedKey | undefined;
}

/** The algorithm of a public or private JWK, or undefined when its type is not accepted. */
export function algOfJwk(jwk: Record<string, unknown>): SignatureAlg | undefined {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return undefined;
}

/** True if any object anywhere inside v has a `d` member (a private JWK, or part of one). */
export function containsPrivateKey(v: unknown, depth = 0): boolean {
  if (depth > 32 || typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) return v.some((x) => containsPrivateKey(x, depth + 1));
  if (Object.hasOwn(v, 'd')) return true;
  return Object.values(v).some((x) => containsPrivateKey(x, depth + 1));
}

/** Check and import one public JWK. `at` names it in errors (e.g. commands.keys.0). Throws KeyError. */
export async function pinKey(jwk: Record<string, unknown>, at: string): Promise<PinnedKey> {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
    throw new KeyError(at, 'must be a JWK object');
  if ('d' in jwk) throw new KeyError(at, 'is a private key; configure only the public part');
  const alg = algOfJwk(jwk);
  if (!alg)
    throw new KeyError(
      at,
      `unsupported key type ${String(jwk.kty)}/${String(jwk.crv)} (use EC P-256 or OKP Ed25519)`,
    );
  if (jwk.alg !== undefined && jwk.alg !== alg && !(alg === 'EdDSA' && jwk.alg === 'Ed25519'))
    throw new KeyError(
      at,
      `alg ${String(jwk.alg)} does not fit a ${String(jwk.kty)} ${String(jwk.crv)} key (${alg})`,
    );
  if (jwk.use !== undefined && jwk.use !== 'sig') throw new KeyError(at, 'use must be sig');
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid === ''))
    throw new KeyError(`${at}.kid`, 'must be a non-empty string');
  try {
    const kid = typeof jwk.kid === 'string' ? jwk.kid : await calculateJwkThumbprint(jwk as JWK);
    const key = (await importJWK(jwk as JWK, alg)) as CryptoKey;
    if (key.type !== 'public') throw new Error('not a public key');
    const algs = alg === 'EdDSA' ? ['EdDSA', 'Ed25519'] : ['ES256'];
    return { kid, algs, key, jwk: { ...jwk } };
  } catch (e) {
    throw new KeyError(at, `not a usable public key: ${(e as Error).message}`);
  }
}

export class KeyRing implements KeyResolver {
  private constructor(private readonly byKid: Map<string, PinnedKey>) {}

  /** Import the JWKs; `path` names the config field in errors (e.g. commands.keys). Throws KeyError. */
  static async load(jwks: readonly Record<string, unknown>[], path = 'keys'): Promise<KeyRing> {
    const byKid = new Map<string, PinnedKey>();
    for (const [i, jwk] of jwks.entries()) {
      const pinned = await pinKey(jwk, `${path}.${i}`);
      if (byKid.has(pinned.kid))
        throw new KeyError(`${path}.${i}.kid`, `duplicate kid "${pinned.kid}"`);
      byKid.set(pinned.kid, pinned);
    }
    return new KeyRing(byKid);
  }

  static of(keys: Iterable<PinnedKey>): KeyRing {
    return new KeyRing(new Map([...keys].map((k) => [k.kid, k])));
  }

  get(kid: string): PinnedKey | undefined {
    return this.byKid.get(kid);
  }

  get size(): number {
    return this.byKid.size;
  }

  kids(): string[] {
    return [...this.byKid.keys()];
  }

  values(): PinnedKey[] {
    return [...this.byKid.values()];
  }
}
