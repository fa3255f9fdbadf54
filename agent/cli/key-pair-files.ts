// `ota keygen` and `trust keygen`: one signing key pair written as <kid>.private.jwk (mode 0600) and
// <kid>.public.jwk, never over an existing key, each file through a temp file and a rename.
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../../platform/usage-error.js';

export interface KeygenOptions {
  out: string;
  alg: string;
  kid?: string;
}

export async function writeKeyPair(o: KeygenOptions): Promise<void> {
  if (o.alg !== 'EdDSA' && o.alg !== 'ES256') throw new UsageError('--alg: must be EdDSA or ES256');
  if (o.kid !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(o.kid))
    throw new UsageError('--kid: 1-64 of letters, digits, _ . -');
  const { generateSigningKey } = await import('../../ota/bundle/signing.js');
  const k = await generateSigningKey(o.alg, o.kid);
  const kid = k.publicJwk.kid!;
  const priv = join(o.out, `${kid}.private.jwk`);
  const pub = join(o.out, `${kid}.public.jwk`);
  if (existsSync(priv) || existsSync(pub))
    throw new UsageError(`${priv} or ${pub} exists: not overwriting a key`);
  mkdirSync(o.out, { recursive: true });
  writeFileSync(`${priv}.tmp`, JSON.stringify(k.privateJwk, null, 2) + '\n', { mode: 0o600 });
  chmodSync(`${priv}.tmp`, 0o600);
  writeFileSync(`${pub}.tmp`, JSON.stringify(k.publicJwk, null, 2) + '\n');
  renameSync(`${priv}.tmp`, priv);
  renameSync(`${pub}.tmp`, pub);
  process.stdout.write(`kid ${kid}\nprivate ${priv}\npublic ${pub}\n`);
}
