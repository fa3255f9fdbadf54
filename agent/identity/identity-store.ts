// The renewed identity on disk, $DATA_DIR/identity/: certificate and (encrypted) key files named by serial
// or CSR id, and two small records written crash-safely. active.json says which pair is in force, and
// during a trial also the pair to go back to; pending.json is the CSR waiting for an answer. Whatever
// instant a kill -9 lands on, the records name files that are already durable, so a restart finds a
// working pair: the old one, the new one on trial (the broker decides), or the new one for good.
import { existsSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { writeFileAtomic, fsyncDir } from '../../platform/atomic-file.js';
import type { ClientPair } from '../link/tls-material.js';
import { writeEncryptedKey } from './key-file.js';

/** A pair in the store, by file name inside the identity dir. */
export interface StoredPair {
  cert: string;
  key: string;
  serial: string;
}

export interface ActiveRecord {
  /** null: the operator's pair from wms.tls.cert/key. */
  current: StoredPair | null;
  /** trial: connected with `current` not yet confirmed; the broker refusing it brings `previous` back. */
  state: 'active' | 'trial';
  previous?: StoredPair | null;
  since: string;
}

export interface PendingRecord {
  id: string;
  csr: string;
  key: string;
  reason: 'renewal' | 'requested';
  createdAt: string;
}

const SAFE_NAME = /^[A-Za-z0-9._-]{1,200}$/;

export class IdentityStore {
  readonly dir: string;
  constructor(dataDir: string) {
    this.dir = join(dataDir, 'identity');
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  pairOf(p: StoredPair): ClientPair {
    return { cert: this.path(p.cert), key: this.path(p.key) };
  }

  /** The active record, or undefined when there is none or it names files that are missing. */
  async readActive(): Promise<ActiveRecord | undefined> {
    const rec = await this.readJson<ActiveRecord>('active.json');
    if (!rec || !(rec.state === 'active' || rec.state === 'trial')) return undefined;
    if (rec.current !== null && !this.pairUsable(rec.current)) return undefined;
    if (rec.previous && !this.pairUsable(rec.previous)) delete rec.previous;
    return rec;
  }

  async writeActive(rec: ActiveRecord): Promise<void> {
    await writeFileAtomic(this.path('active.json'), JSON.stringify(rec, null, 2) + '\n');
  }

  async readPending(): Promise<PendingRecord | undefined> {
    const rec = await this.readJson<PendingRecord>('pending.json');
    if (!rec || typeof rec.id !== 'string' || typeof rec.csr !== 'string') return undefined;
    if (!SAFE_NAME.test(rec.key) || !existsSync(this.path(rec.key))) return undefined;
    return rec;
  }

  async writePending(rec: PendingRecord): Promise<void> {
    await writeFileAtomic(this.path('pending.json'), JSON.stringify(rec, null, 2) + '\n');
  }

  async clearPending(): Promise<void> {
    await rm(this.path('pending.json'), { force: true });
    if (existsSync(this.dir)) await fsyncDir(this.dir);
  }

  /** A new pending key: encrypted PKCS#8, 0600, durable before the CSR leaves the device. */
  async writeKey(id: string, key: KeyObject, passphrase: string): Promise<string> {
    const name = `key-${id}.key`;
    await writeEncryptedKey(this.path(name), key, passphrase);
    return name;
  }

  async writeCert(serial: string, pem: string): Promise<string> {
    const name = `cert-${serial}.pem`;
    await writeFileAtomic(this.path(name), pem, 0o644);
    return name;
  }

  /** Remove key and certificate files no record names any more. */
  async prune(keep: (string | undefined)[]): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const wanted = new Set(keep.filter(Boolean));
    for (const n of names)
      if (/^(cert-.*\.pem|key-.*\.key)$/.test(n) && !wanted.has(n))
        await rm(this.path(n), { force: true });
  }

  private pairUsable(p: StoredPair): boolean {
    return (
      SAFE_NAME.test(p.cert) &&
      SAFE_NAME.test(p.key) &&
      existsSync(this.path(p.cert)) &&
      existsSync(this.path(p.key))
    );
  }

  private async readJson<T>(name: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(this.path(name), 'utf8')) as T;
    } catch {
      return undefined;
    }
  }
}
