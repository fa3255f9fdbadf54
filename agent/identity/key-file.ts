// Private keys at rest: every key the gateway writes is encrypted PKCS#8 PEM under the passphrase in
// WMS_KEY_PASSPHRASE (a balena device variable, so a copied SD card alone does not give up the identity).
// An operator's plaintext key still works, and is rewritten encrypted (crash-safely) once a passphrase is set.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../../platform/atomic-file.js';

export const PASSPHRASE_ENV = 'WMS_KEY_PASSPHRASE';
/** Cipher of the PKCS#8 envelope (PBES2 with PBKDF2, as OpenSSL 3 writes by default). */
const CIPHER = 'aes-256-cbc';

export type KeyFileProblem = 'missing-passphrase' | 'wrong-passphrase' | 'unreadable' | 'not-a-key';

/** A private key that cannot be opened. Its message names the variable and the key, never the passphrase. */
export class KeyFileError extends Error {
  constructor(
    readonly problem: KeyFileProblem,
    readonly source: string,
    detail: string,
  ) {
    super(`${source}: ${detail}`);
    this.name = 'KeyFileError';
  }
}
export function isKeyFileError(e: unknown): e is KeyFileError {
  return e instanceof KeyFileError;
}

/** The passphrase from the environment; an empty value counts as unset. */
export function keyPassphrase(env: Record<string, string | undefined>): string | undefined {
  const p = env[PASSPHRASE_ENV];
  return p === undefined || p === '' ? undefined : p;
}

export function isPemText(v: string): boolean {
  return v.includes('-----BEGIN');
}

/** PKCS#8 encrypted, or a legacy OpenSSL PEM with a Proc-Type ENCRYPTED header. */
export function isEncryptedKeyPem(pem: string | Buffer): boolean {
  const t = pem.toString();
  return t.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(t);
}

/** Open a PEM private key, decrypting it with the passphrase when it is encrypted. */
export function openPrivateKey(
  pem: string | Buffer,
  passphrase: string | undefined,
  source: string,
): KeyObject {
  const encrypted = isEncryptedKeyPem(pem);
  if (encrypted && passphrase === undefined)
    throw new KeyFileError(
      'missing-passphrase',
      source,
      `the key is encrypted and ${PASSPHRASE_ENV} is not set`,
    );
  try {
    return encrypted
      ? createPrivateKey({ key: pem, format: 'pem', passphrase: passphrase! })
      : createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    if (encrypted)
      throw new KeyFileError(
        'wrong-passphrase',
        source,
        `${PASSPHRASE_ENV} does not decrypt this key (wrong passphrase or damaged file)`,
      );
    throw new KeyFileError('not-a-key', source, `not a readable private key: ${errText(e)}`);
  }
}

/** PKCS#8 PEM encrypted under the passphrase. */
export function encryptKeyPem(key: KeyObject, passphrase: string): string {
  return key.export({ type: 'pkcs8', format: 'pem', cipher: CIPHER, passphrase }) as string;
}

/** Write a key encrypted, mode 0600, crash-safely (tmp + fsync + rename + fsync dir). */
export async function writeEncryptedKey(
  path: string,
  key: KeyObject,
  passphrase: string,
): Promise<void> {
  await writeFileAtomic(path, encryptKeyPem(key, passphrase), 0o600);
}

/** Read a key given as PEM text or a file path (sync: the TLS options are built synchronously). */
export function readKeyText(value: string, source: string): Buffer {
  if (isPemText(value)) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (e) {
    throw new KeyFileError('unreadable', source, `cannot read ${value}: ${errText(e)}`);
  }
}

export interface KeyCheck {
  /** Where the key is: a file path, or "inline" for PEM text in the config or WMS_KEY. */
  location: string;
  encrypted: boolean;
  /** The plaintext file was rewritten encrypted now. */
  migrated: boolean;
}

/**
 * At start: open the configured key (a wrong or missing passphrase is an error, and nothing is written),
 * then, when it is a plaintext file and a passphrase is set, rewrite it encrypted in place.
 */
export async function checkAndMigrateKey(
  value: string,
  passphrase: string | undefined,
  source: string,
): Promise<KeyCheck> {
  const inline = isPemText(value);
  const text = inline
    ? Buffer.from(value)
    : await readFile(value).catch((e: unknown) => {
        throw new KeyFileError('unreadable', source, `cannot read ${value}: ${errText(e)}`);
      });
  const key = openPrivateKey(text, passphrase, source);
  const encrypted = isEncryptedKeyPem(text);
  if (encrypted || inline || passphrase === undefined)
    return { location: inline ? 'inline' : value, encrypted, migrated: false };
  const mode = (await stat(value)).mode & 0o777;
  await writeFileAtomic(value, encryptKeyPem(key, passphrase), mode & 0o700 || 0o600);
  return { location: value, encrypted: true, migrated: true };
}

function errText(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message ?? String(e);
}
