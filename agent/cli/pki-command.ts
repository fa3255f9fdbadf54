// `wms-gateway pki ...`: a reference signer for device certificates, so renewal over MQTT can be run without
// a WMS CA: init-ca (make a CA), sign (one CSR), serve (answer cert/csr on a broker), crl (revoke serials).
// The CA key may be encrypted; its passphrase comes from PKI_CA_PASSPHRASE. Errors: one line, exit 2.
import type { Command } from 'commander';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../platform/usage-error.js';
import {
  initCa,
  isIssuerError,
  loadCa,
  makeCrl,
  signCsr,
  type CaPair,
} from '../identity/issuer.js';
import { startSigner } from '../identity/signer-service.js';

const CA_PASSPHRASE_ENV = 'PKI_CA_PASSPHRASE';

function read(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(
      `${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name}: must be a number > 0, got "${v}"`);
  return n;
}

/** --minutes or --days (default 90 days) as seconds. */
function lifetime(o: { minutes?: string; days?: string }): number {
  const m = num(o.minutes, 'minutes');
  const d = num(o.days, 'days');
  if (m !== undefined && d !== undefined)
    throw new UsageError('give --minutes or --days, not both');
  return m !== undefined ? m * 60 : (d ?? 90) * 86_400;
}

async function ca(o: { ca: string; caKey: string }): Promise<{ pair: CaPair; pem: string }> {
  const pem = read(o.ca, 'CA certificate');
  try {
    const pair = await loadCa(
      pem,
      read(o.caKey, 'CA key'),
      process.env[CA_PASSPHRASE_ENV] || undefined,
    );
    return { pair, pem };
  } catch (e) {
    if (isIssuerError(e)) throw new UsageError(e.message);
    throw e;
  }
}

const line = (e: Record<string, unknown>) =>
  process.stdout.write(JSON.stringify({ ts: new Date().toISOString(), ...e }) + '\n');

export function registerPkiCommand(program: Command): void {
  const pki = program
    .command('pki')
    .description('reference signer for device certificates (CA, CSR signing, MQTT responder, CRL)');

  pki
    .command('init-ca')
    .description(
      `make an EC P-256 CA: DIR/ca.pem and DIR/ca.key (encrypted when ${CA_PASSPHRASE_ENV} is set)`,
    )
    .requiredOption('--out <dir>', 'directory for ca.pem and ca.key')
    .option('--cn <name>', 'CA common name', 'wms-device-ca')
    .option('--days <n>', 'CA lifetime in days', '3650')
    .action(async (o: { out: string; cn: string; days: string }) => {
      const certPath = join(o.out, 'ca.pem');
      const keyPath = join(o.out, 'ca.key');
      if (existsSync(certPath) || existsSync(keyPath))
        throw new UsageError(`${o.out} already holds ca.pem or ca.key; not overwriting`);
      const passphrase = process.env[CA_PASSPHRASE_ENV] || undefined;
      const r = await initCa({
        cn: o.cn,
        days: num(o.days, 'days')!,
        ...(passphrase && { passphrase }),
      });
      mkdirSync(o.out, { recursive: true });
      writeFileSync(keyPath, r.keyPem, { mode: 0o600, flag: 'wx' });
      writeFileSync(certPath, r.certPem, { mode: 0o644, flag: 'wx' });
      line({ event: 'ca-created', cert: certPath, key: keyPath, encrypted: Boolean(passphrase) });
    });

  pki
    .command('sign <csr>')
    .description('sign one PKCS#10 CSR file; prints the certificate PEM (or writes --out)')
    .requiredOption('--ca <file>', 'CA certificate PEM')
    .requiredOption('--ca-key <file>', 'CA private key PEM')
    .option('--minutes <n>', 'certificate lifetime in minutes')
    .option('--days <n>', 'certificate lifetime in days (default 90)')
    .option('--cn <name>', 'refuse a CSR whose subject CN is not this')
    .option('--out <file>', 'write the certificate here')
    .action(
      async (
        csrFile: string,
        o: {
          ca: string;
          caKey: string;
          minutes?: string;
          days?: string;
          cn?: string;
          out?: string;
        },
      ) => {
        const { pair } = await ca(o);
        const escaped = o.cn?.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const r = await signCsr(read(csrFile, 'CSR'), pair, lifetime(o), {
          ...(escaped && { expectCn: new RegExp(`^${escaped}$`) }),
        }).catch((e: unknown) => {
          throw isIssuerError(e) ? new UsageError(e.message) : e;
        });
        if (o.out) writeFileSync(o.out, r.cert, { mode: 0o644 });
        else process.stdout.write(r.cert);
      },
    );

  pki
    .command('serve')
    .description('answer cert/csr of a tenant on a broker with certificates on cert/issued')
    .requiredOption('--url <url>', 'broker URL (mqtt:// or mqtts://)')
    .requiredOption('--ca <file>', 'CA certificate PEM')
    .requiredOption('--ca-key <file>', 'CA private key PEM')
    .option('--tenant <id>', 'tenant to serve (+ for all)', '+')
    .option('--minutes <n>', 'certificate lifetime in minutes')
    .option('--days <n>', 'certificate lifetime in days (default 90)')
    .option('--tls-ca <file>', "CA of the broker's certificate")
    .option('--tls-cert <file>', "the signer's own client certificate")
    .option('--tls-key <file>', "the signer's own client key")
    .action(
      async (o: {
        url: string;
        ca: string;
        caKey: string;
        tenant: string;
        minutes?: string;
        days?: string;
        tlsCa?: string;
        tlsCert?: string;
        tlsKey?: string;
      }) => {
        const { pair, pem } = await ca(o);
        const tls = {
          ...(o.tlsCa && { ca: Buffer.from(read(o.tlsCa, 'TLS CA')) }),
          ...(o.tlsCert && { cert: Buffer.from(read(o.tlsCert, 'TLS certificate')) }),
          ...(o.tlsKey && { key: Buffer.from(read(o.tlsKey, 'TLS key')) }),
        };
        const signer = await startSigner({
          url: o.url,
          tenant: o.tenant,
          ca: pair,
          caPem: pem,
          lifetimeSeconds: lifetime(o),
          tls,
          log: line,
        });
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await signer.close();
        line({ event: 'stopped', issued: signer.issued });
      },
    );

  pki
    .command('crl')
    .description('write a CRL of the CA revoking the given serial numbers (hex)')
    .requiredOption('--ca <file>', 'CA certificate PEM')
    .requiredOption('--ca-key <file>', 'CA private key PEM')
    .option('--revoke <serial...>', 'serial numbers to revoke', [])
    .option('--days <n>', 'days until the next update', '30')
    .option('--out <file>', 'write the CRL here')
    .action(
      async (o: { ca: string; caKey: string; revoke: string[]; days: string; out?: string }) => {
        for (const s of o.revoke)
          if (!/^[0-9A-Fa-f]{1,40}$/.test(s))
            throw new UsageError(`--revoke: ${s} is not a hex serial`);
        const { pair } = await ca(o);
        const crl = await makeCrl(pair, o.revoke, num(o.days, 'days')! * 86_400);
        if (o.out) writeFileSync(o.out, crl, { mode: 0o644 });
        else process.stdout.write(crl);
      },
    );
}
