// Manifest signatures: compact JWS, EdDSA/Ed25519 or ES256, the key named by `kid`. Signing (publisher
// side) lives here; verification is the gateway's one verifier (platform/signature), plus the caller's
// check that the signer may sign OTA for the manifest's target.
import {
  CompactSign,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  calculateJwkThumbprint,
  type JWK,
} from 'jose';
import { OtaRefusal } from '../errors.js';
import { KeyRing, type KeyResolver } from '../../platform/signature/key-ring.js';
import { isKeyError, isSignatureError } from '../../platform/signature/errors.js';
import { verifyCompactJws } from '../../platform/signature/verify-jws.js';
import { manifestSchema, type Manifest } from './manifest.js';

export type SigningAlg = 'EdDSA' | 'ES256';

export interface KeyPair {
  privateJwk: JWK;
  publicJwk: JWK;
}

export async function generateSigningKey(
  alg: SigningAlg = 'EdDSA',
  kid?: string,
): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    crv: alg === 'EdDSA' ? 'Ed25519' : undefined,
    extractable: true,
  });
  const publicJwk = await exportJWK(publicKey);
  const id = kid ?? (await calculateJwkThumbprint(publicJwk));
  const privateJwk = await exportJWK(privateKey);
  return {
    privateJwk: { ...privateJwk, kid: id, alg },
    publicJwk: { ...publicJwk, kid: id, alg, use: 'sig' },
  };
}

export function algOf(jwk: JWK): SigningAlg {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  throw new OtaRefusal(
    'unknown-key',
    `key ${jwk.kid ?? '?'}: only Ed25519 and P-256 keys are supported`,
  );
}

/** Canonical manifest bytes: keys in schema order as produced by the packer (JSON.stringify). */
export async function signManifest(manifest: Manifest, privateJwk: JWK): Promise<string> {
  const alg = algOf(privateJwk);
  if (!privateJwk.kid) throw new OtaRefusal('unknown-key', 'the signing key has no kid');
  const key = await importJWK(privateJwk, alg);
  return new CompactSign(new TextEncoder().encode(JSON.stringify(manifest)))
    .setProtectedHeader({ alg, kid: privateJwk.kid, typ: 'wms-gateway-ota+jws' })
    .sign(key);
}

/** The manifest without checking its signature (for `ota inspect`). */
export function decodeManifestUnverified(jws: string): {
  kid?: string;
  alg?: string;
  manifest: unknown;
} {
  const parts = jws.trim().split('.');
  if (parts.length !== 3) throw new OtaRefusal('bad-manifest', 'manifest.jws: not a compact JWS');
  let header: { kid?: string; alg?: string };
  try {
    header = decodeProtectedHeader(jws.trim());
  } catch {
    throw new OtaRefusal('bad-manifest', 'manifest.jws: unreadable protected header');
  }
  try {
    const manifest: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    return { kid: header.kid, alg: header.alg, manifest };
  } catch {
    throw new OtaRefusal('bad-manifest', 'manifest.jws: payload is not JSON');
  }
}

export interface VerifyOptions {
  /** The OTA keys (ota.keys, or `ota verify --key`), or a resolver such as the agent's trust authority. */
  keys: readonly JWK[] | KeyResolver;
  /** Throws (SignatureError) unless `kid` may sign OTA for `target` now (role ota, targets). */
  authorize?: (kid: string, target: string) => void;
  /** Seconds since the epoch; default now. */
  now?: number;
  clockToleranceSeconds?: number;
}

/** Verify signature, key, schema and validity window. Throws OtaRefusal with the reason. */
export async function verifyManifest(jws: string, opts: VerifyOptions): Promise<Manifest> {
  decodeManifestUnverified(jws);
  let keys: KeyResolver;
  try {
    keys = Array.isArray(opts.keys)
      ? await KeyRing.load(opts.keys as JWK[] as Record<string, unknown>[], 'ota.keys')
      : (opts.keys as KeyResolver);
  } catch (e) {
    if (isKeyError(e)) throw new OtaRefusal('unknown-key', e.message);
    throw e;
  }
  let payload: Uint8Array;
  let kid: string;
  try {
    ({ payload, kid } = await verifyCompactJws(jws.trim(), keys));
  } catch (e) {
    if (!isSignatureError(e)) throw e;
    throw new OtaRefusal(
      e.reason === 'malformed' ? 'bad-manifest' : e.reason,
      `manifest: ${e.message}`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    throw new OtaRefusal('bad-manifest', 'manifest payload is not JSON');
  }
  const parsed = manifestSchema.safeParse(doc);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new OtaRefusal('bad-manifest', `manifest.${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const m = parsed.data;
  if (opts.authorize)
    try {
      opts.authorize(kid, m.target);
    } catch (e) {
      if (isSignatureError(e))
        throw new OtaRefusal(
          e.reason === 'malformed' ? 'bad-manifest' : e.reason,
          `manifest: ${e.message}`,
        );
      throw e;
    }
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const tol = opts.clockToleranceSeconds ?? 30;
  if (m.exp + tol < now)
    throw new OtaRefusal('expired', `manifest ${m.name} ${m.version} expired at ${iso(m.exp)}`);
  if (m.iat - tol > now)
    throw new OtaRefusal(
      'not-yet-valid',
      `manifest ${m.name} ${m.version} issued in the future (${iso(m.iat)})`,
    );
  return m;
}

function iso(s: number): string {
  return new Date(s * 1000).toISOString();
}

/**
 * A compact JWS split for the bundle: the signed JSON bytes as they are (they compress well) and the
 * detached signature `header..signature` (RFC 7515 appendix F). attachSignature() rebuilds the same JWS.
 */
export function detachSignature(jws: string): { json: Buffer; sig: string } {
  const [h, p, s] = jws.trim().split('.');
  if (h === undefined || p === undefined || s === undefined)
    throw new OtaRefusal('bad-manifest', 'not a compact JWS');
  return { json: Buffer.from(p, 'base64url'), sig: `${h}..${s}` };
}

export function attachSignature(json: Buffer, sig: string): string {
  const parts = sig.trim().split('.');
  if (parts.length !== 3 || parts[1] !== '')
    throw new OtaRefusal(
      'bad-manifest',
      'manifest.sig: not a detached compact JWS (header..signature)',
    );
  return `${parts[0]}.${json.toString('base64url')}.${parts[2]}`;
}
