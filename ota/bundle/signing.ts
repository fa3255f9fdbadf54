// Manifest signatures: compact JWS (jose), EdDSA/Ed25519 or ES256, the key named by `kid`.
import {
  CompactSign,
  compactVerify,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  calculateJwkThumbprint,
  type JWK,
} from 'jose';
import { OtaRefusal } from '../errors.js';
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
  keys: readonly JWK[];
  /** Seconds since the epoch; default now. */
  now?: number;
  clockToleranceSeconds?: number;
}

/** Verify signature, key, schema and validity window. Throws OtaRefusal with the reason. */
export async function verifyManifest(jws: string, opts: VerifyOptions): Promise<Manifest> {
  const { kid } = decodeManifestUnverified(jws);
  if (!kid) throw new OtaRefusal('unknown-key', 'manifest.jws: no kid in the protected header');
  const jwk = opts.keys.find((k) => k.kid === kid);
  if (!jwk) throw new OtaRefusal('unknown-key', `manifest signed by unknown key "${kid}"`);
  const alg = algOf(jwk);
  let payload: Uint8Array;
  try {
    const key = await importJWK(jwk, alg);
    ({ payload } = await compactVerify(jws.trim(), key, { algorithms: [alg] }));
  } catch {
    throw new OtaRefusal('bad-signature', `manifest signature does not verify with key "${kid}"`);
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
