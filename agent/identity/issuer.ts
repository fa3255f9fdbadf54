// The reference signer's CA operations (`wms-gateway pki`): make a CA, sign a device CSR, write a CRL.
// A WMS normally runs its own CA; this one lets the renewal loop run and be tested without one.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as never);

const subtle = webcrypto.subtle;

export class IssuerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IssuerError';
  }
}
export function isIssuerError(e: unknown): e is IssuerError {
  return e instanceof IssuerError;
}

export interface CaPair {
  cert: x509.X509Certificate;
  /** WebCrypto signing key of the CA (EC P-256 or P-384). */
  key: webcrypto.CryptoKey;
  alg: { name: 'ECDSA'; namedCurve: string; hash: string };
}

function ecParams(key: KeyObject): { name: 'ECDSA'; namedCurve: string; hash: string } {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const named = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
  if (key.asymmetricKeyType !== 'ec' || !named)
    throw new IssuerError('the CA key must be an EC P-256 or P-384 key');
  return { name: 'ECDSA', namedCurve: named, hash: named === 'P-256' ? 'SHA-256' : 'SHA-384' };
}

/** Load a CA from its certificate PEM and private key PEM (encrypted when a passphrase is given). */
export async function loadCa(
  certPem: string,
  keyPem: string,
  passphrase?: string,
): Promise<CaPair> {
  let keyObj: KeyObject;
  try {
    keyObj = createPrivateKey(
      passphrase === undefined ? keyPem : { key: keyPem, passphrase, format: 'pem' },
    );
  } catch (e) {
    throw new IssuerError(`CA key: ${(e as Error).message}`);
  }
  const alg = ecParams(keyObj);
  const der = keyObj.export({ type: 'pkcs8', format: 'der' });
  const key = await subtle.importKey('pkcs8', der, alg, false, ['sign']);
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (e) {
    throw new IssuerError(`CA certificate: ${(e as Error).message}`);
  }
  return { cert, key, alg };
}

const serial = () => {
  const b = randomBytes(16);
  b[0]! &= 0x7f; // positive
  return b.toString('hex');
};

/** A self-signed EC P-256 CA. Returns PEMs (the key as PKCS#8, encrypted when a passphrase is given). */
export async function initCa(opts: {
  cn: string;
  days: number;
  passphrase?: string;
}): Promise<{ certPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [opts.cn] }],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + opts.days * 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const der = Buffer.from(await subtle.exportKey('pkcs8', keys.privateKey));
  const keyObj = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const keyPem = keyObj.export(
    opts.passphrase
      ? { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: opts.passphrase }
      : { type: 'pkcs8', format: 'pem' },
  ) as string;
  return { certPem: cert.toString('pem'), keyPem };
}

export interface IssueOptions {
  ca: CaPair;
  subjectCn: string;
  publicKey: x509.PublicKey | webcrypto.CryptoKey;
  notBefore: Date;
  notAfter: Date;
}

/** A client-auth end-entity certificate. */
export async function issueCertificate(o: IssueOptions): Promise<string> {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [{ CN: [o.subjectCn] }],
    issuer: o.ca.cert.subject,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    publicKey: o.publicKey,
    signingKey: o.ca.key,
    signingAlgorithm: o.ca.alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(o.ca.cert),
    ],
  });
  return cert.toString('pem');
}

/** Sign a PKCS#10 CSR after checking its self-signature; the subject CN is taken from the CSR. */
export async function signCsr(
  csrPem: string,
  ca: CaPair,
  lifetimeSeconds: number,
  opts: { expectCn?: RegExp; backdateSeconds?: number } = {},
): Promise<{ cert: string; cn: string }> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (e) {
    throw new IssuerError(`not a PKCS#10 CSR: ${(e as Error).message}`);
  }
  if (!(await csr.verify())) throw new IssuerError('CSR self-signature does not verify');
  const cn = csr.subjectName.getField('CN')[0];
  if (!cn) throw new IssuerError('CSR subject has no CN');
  if (opts.expectCn && !opts.expectCn.test(cn))
    throw new IssuerError(`CSR CN ${cn} is not one this signer may certify`);
  const now = Date.now();
  const cert = await issueCertificate({
    ca,
    subjectCn: cn,
    publicKey: csr.publicKey,
    notBefore: new Date(now - (opts.backdateSeconds ?? 60) * 1000),
    notAfter: new Date(now + lifetimeSeconds * 1000),
  });
  return { cert, cn };
}

/** A CRL of the CA revoking the given serial numbers (hex). */
export async function makeCrl(
  ca: CaPair,
  serials: string[],
  nextUpdateSeconds = 86_400,
): Promise<string> {
  const now = new Date();
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: new Date(now.getTime() - 60_000),
    nextUpdate: new Date(now.getTime() + nextUpdateSeconds * 1000),
    entries: serials.map((s) => ({
      serialNumber: s.toLowerCase(),
      revocationDate: now,
      reason: x509.X509CrlReason.keyCompromise,
    })),
    signingKey: ca.key,
    signingAlgorithm: ca.alg,
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(ca.cert)],
  });
  // OpenSSL (mosquitto's crlfile, node:tls) reads only the X509 CRL label.
  return crl.toString('pem').replace(/-----(BEGIN|END) CRL-----/g, '-----$1 X509 CRL-----');
}
