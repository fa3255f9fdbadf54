// A test PKI with the real openssl CLI: a CA, a broker certificate for 127.0.0.1, a client certificate,
// and an unrelated CA (the "bad cert" case).
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate valid for `days` more days. */
  clientCertValidFor(days: number): string;
}

export function makePki(dir: string): Pki {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  for (const ca of ['ca', 'other-ca'])
    ssl(
      'req',
      '-x509',
      ...ec,
      '-days',
      '3650',
      '-subj',
      `/CN=${ca}`,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
    );
  const issue = (name: string, days: number, ext?: string) => {
    ssl('req', ...ec, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    const args = [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      String(days),
      '-out',
      `${name}.pem`,
    ];
    if (ext) {
      writeFileSync(join(dir, `${name}.ext`), ext);
      args.push('-extfile', `${name}.ext`);
    }
    ssl(...args);
    return join(dir, `${name}.pem`);
  };
  issue('server', 825, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('client', 365, 'extendedKeyUsage=clientAuth\n');
  // mosquitto started as root drops to the mosquitto user: it must be able to read its files.
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'server.key'), 0o644);
  return {
    ca: join(dir, 'ca.pem'),
    otherCa: join(dir, 'other-ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    clientCertValidFor: (days) => issue(`client-${days}d`, days, 'extendedKeyUsage=clientAuth\n'),
  };
}
