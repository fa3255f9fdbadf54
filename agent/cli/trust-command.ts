// `wms-gateway trust keygen|sign|inspect`: the publisher side of trust policies, run offline where the
// root private keys live (docs/trust.md is the runbook). Errors: one line, exit 2, nothing half-written.
import type { Command } from 'commander';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { parse as parseYaml } from 'yaml';
import { UsageError } from '../../platform/usage-error.js';
import { writeKeyPair, type KeygenOptions } from './key-pair-files.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function readText(file: string, what: string): string {
  try {
    return file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(
      `${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

function readJson(file: string, what: string): unknown {
  const text = readText(file, what);
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${what} ${file}: not JSON`);
  }
}

/** Write whole or not at all. */
function writeOut(file: string, text: string, mode = 0o644): void {
  writeFileSync(`${file}.tmp`, text, { mode });
  renameSync(`${file}.tmp`, file);
}

async function refusalToUsage<T>(fn: () => Promise<T>): Promise<T> {
  const { isTrustRefusal } = await import('../trust/policy.js');
  try {
    return await fn();
  } catch (e) {
    if (isTrustRefusal(e)) throw new UsageError(`${e.reason}: ${e.message}`);
    throw e;
  }
}

export function registerTrustCommand(program: Command): void {
  const trust = program
    .command('trust')
    .description(
      'trust policies, publisher side: root keys (keygen), signing (sign), reading (inspect)',
    );

  trust
    .command('keygen')
    .description(
      'generate a root (or delegated) key pair: <kid>.private.jwk (keep offline) and <kid>.public.jwk',
    )
    .requiredOption('--out <dir>', 'directory to write the two JWK files to')
    .option('--alg <alg>', 'EdDSA (Ed25519) or ES256', 'EdDSA')
    .option('--kid <id>', 'key id (default: the JWK thumbprint)')
    .action((o: KeygenOptions) => writeKeyPair(o));

  trust
    .command('sign')
    .description(
      'sign a policy (JSON or YAML) with one or more root private keys; prints the trust/set payload',
    )
    .argument(
      '<policy>',
      'policy file: {version, keys:[...], revoked, roots?, threshold?, iat?, exp?}',
    )
    .requiredOption('--key <file>', 'root private JWK (repeat for several roots)', collect)
    .option('--expires-in-days <n>', 'sets exp when the file has none', '90')
    .option('--out <file>', 'write the payload here instead of stdout')
    .action(async (file: string, o: { key: string[]; expiresInDays: string; out?: string }) =>
      refusalToUsage(async () => {
        let doc: unknown;
        try {
          doc = parseYaml(readText(file, 'policy'));
        } catch (e) {
          if (e instanceof UsageError) throw e;
          throw new UsageError(`policy ${file}: neither JSON nor YAML`);
        }
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
          throw new UsageError(`policy ${file}: must be an object`);
        const days = Number(o.expiresInDays);
        if (!Number.isInteger(days) || days < 1 || days > 3650)
          throw new UsageError('--expires-in-days: an integer 1..3650');
        const now = Math.floor(Date.now() / 1000);
        const full = { iat: now, exp: now + days * 86_400, revoked: [], ...doc };
        const { checkPolicyDocument, signPolicy } = await import('../trust/publisher.js');
        checkPolicyDocument(full);
        const keys = o.key.map((k) => readJson(k, 'key') as JWK);
        for (const [i, k] of keys.entries())
          if (typeof k !== 'object' || k === null || !('d' in k))
            throw new UsageError(`--key ${o.key[i]}: not a private JWK`);
        const out = await signPolicy(full, keys).catch((e: Error) => {
          throw new UsageError(e.message);
        });
        if (o.out) writeOut(o.out, out + '\n');
        else process.stdout.write(out + '\n');
      }),
    );

  trust
    .command('inspect')
    .description('show what a signed policy grants; with --roots, also check its signatures')
    .argument('<file>', 'a trust/set payload (compact JWS or JSON array of them), - for stdin')
    .option('--roots <file>', 'JSON array of the root public JWKs in force (or a single JWK)')
    .option('--threshold <n>', 'distinct roots that must have signed', '1')
    .action(async (file: string, o: { roots?: string; threshold: string }) =>
      refusalToUsage(async () => {
        const text = readText(file, 'policy').trim();
        const { describePolicy, formatPolicy } = await import('../trust/publisher.js');
        const d = describePolicy(text);
        const lines = formatPolicy(d);
        if (o.roots) {
          const { checkPolicy } = await import('../trust/policy.js');
          const { KeyRing } = await import('../../platform/signature/key-ring.js');
          const rootsDoc = readJson(o.roots, 'roots');
          const roots = await KeyRing.load(
            (Array.isArray(rootsDoc) ? rootsDoc : [rootsDoc]) as Record<string, unknown>[],
            'roots',
          ).catch((e: Error) => {
            throw new UsageError(e.message);
          });
          const threshold = Number(o.threshold);
          if (!Number.isInteger(threshold) || threshold < 1)
            throw new UsageError('--threshold: an integer ≥ 1');
          await checkPolicy(
            text,
            { version: 0, roots, threshold, reservedKids: new Set() },
            { maxBytes: 1024 * 1024, nowSeconds: Date.now() / 1000, toleranceSeconds: 0 },
          );
          lines.push(`signatures verify with the given roots (threshold ${threshold})`);
        }
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}
