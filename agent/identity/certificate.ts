// Certificates and CSRs of the device identity. CSR building and name parsing come from @peculiar/x509
// (no hand-written ASN.1); signature and chain checks use Node's own X509Certificate.
import 'reflect-metadata'; // @peculiar/x509 2.x needs the Reflect metadata polyfill loaded first
import * as x509 from '@peculiar/x509';
import {
  createPrivateKey,
  createPublicKey,
  webcrypto,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';

x509.cryptoProvider.set(webcrypto as never);

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

export interface CertInfo {
  serial: string;
  subject: string;
  /** The subject's common name (the gateway id for a device certificate). */
  cn: string | undefined;
  notBefore: Date;
  notAfter: Date;
  fingerprint256: string;
}

/** Every certificate of a PEM bundle; throws when there is none or one does not parse. */
export function parseCertificates(pem: string | Buffer): X509Certificate[] {
  const blocks = pem.toString().match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found');
  return blocks.map((b) => new X509Certificate(b));
}

export function certInfo(cert: X509Certificate): CertInfo {
  const parsed = new x509.X509Certificate(cert.raw);
  return {
    serial: cert.serialNumber.toUpperCase(),
    subject: parsed.subject,
    cn: parsed.subjectName.getField('CN')[0],
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    fingerprint256: cert.fingerprint256,
  };
}

/**
 * When to renew: renewAtFraction of the lifetime after notBefore, or renewBeforeDays before notAfter,
 * whichever comes first.
 */
export function renewAt(
  info: Pick<CertInfo, 'notBefore' | 'notAfter'>,
  opts: { renewAtFraction: number; renewBeforeDays?: number | undefined },
): Date {
  const nb = info.notBefore.getTime();
  const na = info.notAfter.getTime();
  let at = nb + (na - nb) * opts.renewAtFraction;
  if (opts.renewBeforeDays !== undefined) at = Math.min(at, na - opts.renewBeforeDays * 86_400_000);
  return new Date(at);
}

/** Does the certificate carry this key's public half? (SPKI compared byte for byte.) */
export function certMatchesKey(cert: X509Certificate, key: KeyObject): boolean {
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  return spki(cert.publicKey).equals(spki(createPublicKey(key)));
}

/**
 * Does `leaf` chain to one of `anchors`, possibly through `intermediates`? Each link's signature is verified
 * and every CA on the way must be valid now and marked CA. Returns undefined, or why not.
 */
export function chainProblem(
  leaf: X509Certificate,
  intermediates: X509Certificate[],
  anchors: X509Certificate[],
  now: Date,
): string | undefined {
  let cur = leaf;
  const valid = (c: X509Certificate) => new Date(c.validFrom) <= now && now < new Date(c.validTo);
  const signedBy = (c: X509Certificate, by: X509Certificate) =>
    c.checkIssued(by) && by.ca && c.verify(by.publicKey);
  for (let depth = 0; depth <= intermediates.length; depth++) {
    const anchor = anchors.find((a) => signedBy(cur, a));
    if (anchor) return valid(anchor) ? undefined : `issuer CA ${anchor.subject} is not valid now`;
    const next = intermediates.find((i) => i !== cur && signedBy(cur, i));
    if (!next) return `not issued by identity.issuerCa (issuer ${cur.issuer.replace(/\n/g, ', ')})`;
    if (!valid(next)) return `intermediate ${next.subject} is not valid now`;
    cur = next;
  }
  return 'chain does not reach identity.issuerCa';
}

/** A fresh P-256 key pair made on the device, and a PKCS#10 CSR for CN = gateway id signed by it. */
export async function makeKeyAndCsr(gatewayId: string): Promise<{ key: KeyObject; csr: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [gatewayId] }],
    keys,
    signingAlgorithm: alg,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as never));
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return { key, csr: req.toString('pem') };
}
