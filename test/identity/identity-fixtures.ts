// Test PKI for identity tests: the openssl CA of test/helpers/pki.ts (trusted by mosquitto) and its
// unrelated "other" CA, loaded as signers, plus short-lived device certificates for any key and name.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { issueCertificate, loadCa, type CaPair } from '../../agent/identity/issuer.js';
import { makePki, type TestPki } from '../helpers/pki.js';
import { spawnCli, waitForOutput } from '../helpers/cli.js';
import { onTeardown, type Teardown } from '../helpers/gateway-fixture.js';

export interface IdentityPki extends TestPki {
  caPair: CaPair;
  otherCaPair: CaPair;
  /** A P-256 key and a certificate for it (CN), valid from now - backdateS for lifetimeS in all. */
  device(
    name: string,
    o: { cn: string; lifetimeS: number; backdateS?: number; ca?: CaPair },
  ): Promise<{ cert: string; key: string; certPem: string; keyPem: string; keyObject: KeyObject }>;
}

export async function makeIdentityPki(dir: string): Promise<IdentityPki> {
  const pki = makePki(dir);
  const caPair = await loadCa(
    readFileSync(pki.ca, 'utf8'),
    readFileSync(join(dir, 'ca.key'), 'utf8'),
  );
  const otherCaPair = await loadCa(
    readFileSync(pki.otherCa, 'utf8'),
    readFileSync(join(dir, 'other-ca.key'), 'utf8'),
  );
  return {
    ...pki,
    caPair,
    otherCaPair,
    async device(name, o) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const now = Date.now();
      const certPem = await certFor(privateKey, {
        ca: o.ca ?? caPair,
        cn: o.cn,
        notBefore: new Date(now - (o.backdateS ?? 0) * 1000),
        notAfter: new Date(now - (o.backdateS ?? 0) * 1000 + o.lifetimeS * 1000),
      });
      const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      const cert = join(dir, `${name}.pem`);
      const key = join(dir, `${name}.key`);
      writeFileSync(cert, certPem);
      writeFileSync(key, keyPem, { mode: 0o600 });
      return { cert, key, certPem, keyPem, keyObject: privateKey };
    },
  };
}

/** A certificate for the public half of `key` (a KeyObject or a CSR's public key). */
export async function certFor(
  key: KeyObject | x509.PublicKey,
  o: { ca: CaPair; cn: string; notBefore: Date; notAfter: Date },
): Promise<string> {
  const publicKey =
    key instanceof x509.PublicKey
      ? key
      : new x509.PublicKey(
          new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })),
        );
  return issueCertificate({
    ca: o.ca,
    subjectCn: o.cn,
    publicKey,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
  });
}

/** The public key of a PKCS#10 CSR. */
export function csrPublicKey(csrPem: string): x509.PublicKey {
  return new x509.Pkcs10CertificateRequest(csrPem).publicKey;
}

/** The test PKI's client pair and CA as mqtt.js TLS options (the WMS side of a mutual-TLS broker). */
export function wmsTlsOptions(pki: TestPki): { ca: Buffer; cert: Buffer; key: Buffer } {
  return {
    ca: readFileSync(pki.ca),
    cert: readFileSync(pki.clientCert),
    key: readFileSync(pki.clientKey),
  };
}

export interface PkiServe {
  /** Everything it printed on stdout so far. */
  output(): string;
  /** Resolves once it is subscribed and answering CSRs. */
  listening(): Promise<unknown>;
}

/**
 * `wms-gateway pki serve` as the WMS's CA on the broker (tenant acme), signing with the test CA; killed
 * at teardown. Started before the agent, so no CSR is missed.
 */
export function startPkiServe(t: Teardown, pki: TestPki, brokerUrl: string): PkiServe {
  const proc = spawnCli([
    'pki',
    'serve',
    '--url',
    brokerUrl,
    '--ca',
    pki.ca,
    '--ca-key',
    join(pki.dir, 'ca.key'),
    '--tenant',
    'acme',
    '--minutes',
    '10',
    '--tls-ca',
    pki.ca,
    '--tls-cert',
    pki.clientCert,
    '--tls-key',
    pki.clientKey,
  ]);
  onTeardown(t, () => proc.kill('SIGKILL'));
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    output: () => out,
    listening: () => waitForOutput(proc, /"event":"listening"/, 90_000),
  };
}
