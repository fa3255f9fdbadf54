// Test-side WMS: key pairs and compact JWS signing, as docs/commands.md tells a WMS to do it.
import { CompactSign, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export interface Signer {
  kid: string;
  alg: 'ES256' | 'EdDSA';
  publicJwk: JWK;
  privateKey: CryptoKey;
  sign(payload: object | string, header?: Record<string, unknown>): Promise<string>;
}

export async function makeSigner(alg: 'ES256' | 'EdDSA', kid: string): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid };
  return {
    kid,
    alg,
    publicJwk,
    privateKey,
    sign: (payload, header = {}) =>
      new CompactSign(Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)))
        .setProtectedHeader({ alg, kid, ...header })
        .sign(privateKey),
  };
}

let seq = 0;
/** A fresh command id. */
export function cmdId(prefix = 'c'): string {
  return `${prefix}-${process.pid}-${Date.now()}-${++seq}`;
}

export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}
