// The policy in force, on disk at $DATA_DIR/trust/policy.json: replaced whole (tmp + fsync + rename +
// fsync dir), so a kill -9 while a policy is applied leaves either the old or the new one in force.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { pinKey } from '../../platform/signature/key-ring.js';
import { policySchema, sha256, type DelegatedKey, type Policy } from './policy.js';

export const POLICY_FILE = 'policy.json';

export interface StoredPolicy {
  /** The policy payload exactly as the roots signed it. */
  text: string;
  sha256: string;
  signers: string[];
  appliedAt: string;
  /** sha256 of the local roots (trust.roots / GATEWAY_TRUST_ROOTS) when this policy was applied. */
  localRootsSha: string;
  /** Roots in force after this policy (its own `roots`, or those carried from an earlier rotation). */
  roots?: Record<string, unknown>[];
  threshold?: number;
}

export interface LoadedPolicy extends StoredPolicy {
  policy: Policy;
  keys: DelegatedKey[];
}

/** Fault injection for the crash test: env WMS_GATEWAY_TRUST_HOLD=before-save|after-save. */
async function holdIfAsked(point: string): Promise<void> {
  if (process.env.WMS_GATEWAY_TRUST_HOLD !== point) return;
  process.stderr.write(`trust: holding ${point} (WMS_GATEWAY_TRUST_HOLD)\n`);
  await new Promise(() => setInterval(() => {}, 60_000));
}

export class TrustStore {
  constructor(private readonly dir: string) {}

  get path(): string {
    return join(this.dir, POLICY_FILE);
  }

  /** The stored policy, or undefined if none. Throws if the file exists but cannot be used. */
  async load(): Promise<LoadedPolicy | undefined> {
    let raw: string;
    try {
      raw = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const stored = JSON.parse(raw) as StoredPolicy;
    if (typeof stored.text !== 'string' || sha256(stored.text) !== stored.sha256)
      throw new Error(`${this.path}: the stored policy does not match its sha256`);
    const policy = policySchema.parse(JSON.parse(stored.text));
    const keys: DelegatedKey[] = [];
    for (const [i, k] of policy.keys.entries()) {
      const { jwk, ...grant } = k;
      keys.push({ ...grant, pinned: await pinKey({ ...jwk, kid: k.kid }, `keys.${i}.jwk`) });
    }
    return { ...stored, policy, keys };
  }

  async save(p: StoredPolicy): Promise<void> {
    await holdIfAsked('before-save');
    await writeFileAtomic(this.path, JSON.stringify(p));
    await holdIfAsked('after-save');
  }
}
