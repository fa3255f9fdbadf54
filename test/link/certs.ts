// Test PKI made with the real openssl CLI: a CA, a server certificate for 127.0.0.1/localhost, client
// certificates (valid, expired, expiring soon) and a second, unrelated CA.
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
  expiredCert: string;
  soonCert: (days: number) => string;
}

export function makePki(dir: string): TestPki {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const p = (f: string) => join(dir, f);
  const newCa = (name: string) => {
    ssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '30',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
    );
  };
  newCa('ca');
  newCa('other-ca');
  const csr = (name: string) =>
    ssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
  const sign = (name: string, days: number, ext?: string) => {
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
      writeFileSync(p(`${name}.ext`), ext);
      args.push('-extfile', `${name}.ext`);
    }
    ssl(...args);
  };
  csr('server');
  sign('server', 30, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  csr('client');
  sign('client', 365);
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
    soonCert: (days: number) => {
      const name = `soon${days}`;
      csr(name);
      sign(name, days);
      return p(`${name}.pem`);
    },
  };
}
