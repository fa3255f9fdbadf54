// CA, client certificate and key for mqtts://, each given as PEM text or a file path. Files are re-read at
// every connection attempt so a rotated certificate on disk is picked up without a restart.
import { readFileSync, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { GatewayConfig } from '../config/schema.js';
import { TlsMaterialError } from './link-errors.js';
import { isEncryptedKeyPem } from '../identity/key-file.js';

export type WmsTlsConfig = GatewayConfig['wms']['tls'];

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Only when the key is encrypted (WMS_KEY_PASSPHRASE): node:tls decrypts it in the handshake. */
  passphrase?: string;
  /** CRLs for the broker's chain (wms.tls.crl): a revoked broker certificate fails the handshake. */
  crl?: Buffer[];
  servername?: string;
}

const isPemText = (v: string) => v.includes('-----BEGIN');

function load(field: 'ca' | 'cert' | 'key' | 'crl', v: string | undefined): Buffer | undefined {
  if (v === undefined || v === '') return undefined;
  let buf: Buffer;
  if (isPemText(v)) buf = Buffer.from(v);
  else {
    try {
      buf = readFileSync(v);
    } catch (e) {
      throw new TlsMaterialError(
        field,
        `cannot read ${v}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  }
  if (!buf.includes('-----BEGIN')) throw new TlsMaterialError(field, 'is not PEM');
  return buf;
}

/** The client pair the link uses instead of wms.tls.cert/key (a renewed identity); paths or PEM text. */
export interface ClientPair {
  cert: string;
  key: string;
}

export function loadTlsMaterial(
  tls: WmsTlsConfig,
  passphrase?: string,
  pair?: ClientPair,
): TlsMaterial {
  const m: TlsMaterial = {};
  const ca = load('ca', tls.ca);
  const cert = load('cert', pair?.cert ?? tls.cert);
  const key = load('key', pair?.key ?? tls.key);
  if (ca) m.ca = ca;
  if (cert) m.cert = cert;
  if (key) m.key = key;
  if (key && passphrase !== undefined && isEncryptedKeyPem(key)) m.passphrase = passphrase;
  const crls = typeof tls.crl === 'string' ? [tls.crl] : (tls.crl ?? []);
  if (crls.length) m.crl = crls.map((c) => load('crl', c)!).filter(Boolean);
  if ((cert && !key) || (key && !cert))
    throw new TlsMaterialError(cert ? 'key' : 'cert', 'mutual TLS needs both cert and key');
  if (tls.servername) m.servername = tls.servername;
  return m;
}

/** When the client certificate stops being valid. */
export function certificateNotAfter(certPem: Buffer): Date {
  try {
    return new Date(new X509Certificate(certPem).validTo);
  } catch (e) {
    throw new TlsMaterialError('cert', `not a readable X.509 certificate: ${(e as Error).message}`);
  }
}

/** True when the key is a file that group or others may read (mode & 077). PEM text in config: false. */
export function keyFileTooOpen(key: string | undefined): boolean {
  if (!key || isPemText(key)) return false;
  try {
    return (statSync(key).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}
