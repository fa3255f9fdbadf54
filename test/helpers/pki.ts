// A test PKI made with the real openssl CLI: a CA, a broker certificate for 127.0.0.1/localhost, client
// certificates (valid, expired, valid for N more days) and a second, unrelated CA (the "wrong CA" case).
import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** Expired in 2020 (its key beside it, .key). */
  expiredCert: string;
  /** A client certificate valid for `days` more days (its key beside it, .key). */
  clientCertValidFor(days: number): string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const CLIENT_EXT = 'extendedKeyUsage=clientAuth\n';

export function makePki(dir: string): TestPki {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const p = (f: string) => join(dir, f);
  for (const ca of ['ca', 'other-ca'])
    ssl(
      'req',
      '-x509',
      ...EC,
      '-days',
      '3650',
      '-subj',
      `/CN=${ca}`,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
    );
  const csr = (name: string) =>
    ssl('req', ...EC, '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
  const issue = (name: string, days: number, ext: string) => {
    csr(name);
    writeFileSync(p(`${name}.ext`), ext);
    ssl(
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
      '-extfile',
      `${name}.ext`,
    );
    return p(`${name}.pem`);
  };
  issue('server', 825, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('client', 365, CLIENT_EXT);
  // An expired certificate needs explicit dates: `openssl ca` is the CLI way to set them.
  csr('expired');
  writeFileSync(
    p('ca.cnf'),
    [
      '[ca]',
      'default_ca = d',
      '[d]',
      `database = ${p('index.txt')}`,
      `new_certs_dir = ${dir}`,
      `serial = ${p('serial')}`,
      'default_md = sha256',
      'policy = any',
      'copy_extensions = none',
      '[any]',
      'commonName = supplied',
    ].join('\n') + '\n',
  );
  writeFileSync(p('index.txt'), '');
  writeFileSync(p('serial'), '01\n');
  ssl(
    'ca',
    '-config',
    'ca.cnf',
    '-batch',
    '-notext',
    '-cert',
    'ca.pem',
    '-keyfile',
    'ca.key',
    '-in',
    'expired.csr',
    '-out',
    'expired.pem',
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200201000000Z',
  );
  // mosquitto started as root drops to the mosquitto user: it must be able to read its files.
  chmodSync(dir, 0o755);
  chmodSync(p('server.key'), 0o644);
  return {
    dir,
    ca: p('ca.pem'),
    otherCa: p('other-ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    expiredCert: p('expired.pem'),
    clientCertValidFor: (days) => issue(`client-${days}d`, days, CLIENT_EXT),
  };
}
