// A trust policy (CONTRACT.md §6): its schema and the checks made on a `trust/set` payload before it may
// replace the policy in force. Every refusal is a TrustRefusal with one stable kebab-case reason.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  KeyRing,
  containsPrivateKey,
  pinKey,
  type PinnedKey,
} from '../../platform/signature/key-ring.js';
import { isKeyError, isSignatureError } from '../../platform/signature/errors.js';
import { looksLikeCompactJws, verifyCompactJws } from '../../platform/signature/verify-jws.js';
import { ROLES, TARGETS } from './roles.js';

export const TRUST_REFUSALS = [
  'too-large',
  'malformed', // not a compact JWS / JSON array of them, payload not JSON, signatures over different payloads
  'invalid-policy', // the payload is not a valid policy (field named in the message)
  'private-key', // some object in the policy has `d`
  'unknown-key', // a signature's kid is not a current root
  'bad-alg',
  'bad-signature',
  'under-threshold', // fewer distinct current roots signed than the threshold in force
  'stale-version', // replay or rollback: version not above the one in force
  'expired',
  'not-yet-valid',
] as const;
export type TrustRefusalReason = (typeof TRUST_REFUSALS)[number];

export class TrustRefusal extends Error {
  constructor(
    readonly reason: TrustRefusalReason,
    detail: string,
  ) {
    super(detail);
    this.name = 'TrustRefusal';
  }
}

export function isTrustRefusal(e: unknown): e is TrustRefusal {
  return e instanceof TrustRefusal;
}

/** At most this many signatures in one trust/set (more roots than the schema allows is pointless). */
export const MAX_SIGNATURES = 16;

const kid = z.string().min(1).max(128);
const numericDate = z.number().int().min(0).max(253_402_300_799); // up to year 9999

const delegatedKeySchema = z.strictObject({
  kid,
  jwk: z.looseObject({ kty: z.string() }),
  roles: z.array(z.enum(ROLES)).min(1).max(ROLES.length),
  plcs: z.array(z.string().min(1).max(128)).min(1).max(256).optional(),
  targets: z.array(z.enum(TARGETS)).min(1).max(TARGETS.length).optional(),
  nbf: numericDate.optional(),
  exp: numericDate.optional(),
});

export const policySchema = z.strictObject({
  version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  iat: numericDate,
  exp: numericDate,
  keys: z.array(delegatedKeySchema).max(256),
  revoked: z.array(kid).max(4096).default([]),
  roots: z
    .array(z.looseObject({ kty: z.string() }))
    .min(1)
    .max(16)
    .optional(),
  threshold: z.number().int().min(1).max(16).optional(),
});
export type Policy = z.output<typeof policySchema>;

/** A delegated key, imported. */
export interface DelegatedKey extends Omit<Policy['keys'][number], 'jwk'> {
  pinned: PinnedKey;
}

/** A policy that passed every check, ready to be put in force. */
export interface CheckedPolicy {
  policy: Policy;
  /** The payload bytes as signed. */
  text: string;
  sha256: string;
  /** The kids of the roots that signed it. */
  signers: string[];
  keys: DelegatedKey[];
  /** The roots it names (rotation), imported. */
  roots?: PinnedKey[];
}

export interface InForce {
  version: number;
  roots: KeyRing;
  threshold: number;
  /** Kids that a delegated key may not take (local keys). */
  reservedKids: ReadonlySet<string>;
}

/** The compact JWS of a trust/set payload: one, or a JSON array of several over the same payload. */
export function splitSignatures(text: string): string[] {
  if (looksLikeCompactJws(text)) return [text];
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new TrustRefusal(
      'malformed',
      'trust/set: neither a compact JWS nor a JSON array of them',
    );
  }
  if (!Array.isArray(doc) || doc.length === 0 || doc.length > MAX_SIGNATURES)
    throw new TrustRefusal('malformed', `trust/set: an array of 1-${MAX_SIGNATURES} compact JWS`);
  if (!doc.every((s): s is string => typeof s === 'string' && looksLikeCompactJws(s.trim())))
    throw new TrustRefusal('malformed', 'trust/set: every array entry must be a compact JWS');
  const jws = doc.map((s) => s.trim());
  const payload = jws[0]!.split('.')[1];
  if (!jws.every((s) => s.split('.')[1] === payload))
    throw new TrustRefusal('malformed', 'trust/set: the signatures are over different payloads');
  return jws;
}

/** Verify signatures and threshold, then the policy itself. Throws TrustRefusal. */
export async function checkPolicy(
  raw: string,
  now: InForce,
  opts: { maxBytes: number; nowSeconds: number; toleranceSeconds: number },
): Promise<CheckedPolicy> {
  if (Buffer.byteLength(raw) > opts.maxBytes)
    throw new TrustRefusal(
      'too-large',
      `${Buffer.byteLength(raw)} bytes > trust.maxPolicyBytes ${opts.maxBytes}`,
    );
  const jws = splitSignatures(raw.trim());
  const signers = new Set<string>();
  let payload: Uint8Array | undefined;
  for (const one of jws) {
    try {
      const v = await verifyCompactJws(one, now.roots);
      signers.add(v.kid);
      payload = v.payload;
    } catch (e) {
      if (!isSignatureError(e)) throw e;
      const reason = e.reason === 'bad-alg' || e.reason === 'bad-signature' ? e.reason : null;
      if (reason) throw new TrustRefusal(reason, e.message);
      if (e.reason === 'unknown-key')
        throw new TrustRefusal(
          'unknown-key',
          `${e.kid ? `kid ${e.kid}` : 'a signature without kid'} is not a current root`,
        );
      throw new TrustRefusal('malformed', e.message);
    }
  }
  if (signers.size < now.threshold)
    throw new TrustRefusal(
      'under-threshold',
      `signed by ${signers.size} distinct root(s) (${[...signers].join(', ')}); ${now.threshold} needed`,
    );
  const text = Buffer.from(payload!).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new TrustRefusal('malformed', 'the policy is not JSON');
  }
  if (containsPrivateKey(doc))
    throw new TrustRefusal('private-key', 'the policy holds a private key (a "d" member)');
  const parsed = policySchema.safeParse(doc);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new TrustRefusal('invalid-policy', `${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  const policy = parsed.data;
  if (policy.version <= now.version)
    throw new TrustRefusal(
      'stale-version',
      `version ${policy.version} is not above the version in force (${now.version})`,
    );
  const { nowSeconds: t, toleranceSeconds: tol } = opts;
  if (policy.exp <= t - tol)
    throw new TrustRefusal('expired', `the policy expired at ${iso(policy.exp)}`);
  if (policy.iat > t + tol)
    throw new TrustRefusal(
      'not-yet-valid',
      `the policy is issued in the future (${iso(policy.iat)})`,
    );
  if (policy.exp <= policy.iat) throw new TrustRefusal('invalid-policy', 'exp: not after iat');
  const keys = await importKeys(policy, now);
  let roots: PinnedKey[] | undefined;
  if (policy.roots) {
    try {
      roots = (await KeyRing.load(policy.roots, 'roots')).values();
    } catch (e) {
      if (isKeyError(e)) throw new TrustRefusal('invalid-policy', e.message);
      throw e;
    }
    for (const r of roots)
      if (keys.some((k) => k.kid === r.kid))
        throw new TrustRefusal('invalid-policy', `roots: kid ${r.kid} is also a delegated key`);
  }
  const threshold = policy.threshold ?? now.threshold;
  const rootCount = roots?.length ?? now.roots.size;
  if (threshold > rootCount)
    throw new TrustRefusal(
      'invalid-policy',
      `threshold: ${threshold} is more than the ${rootCount} root(s) that would be in force`,
    );
  return {
    policy,
    text,
    sha256: sha256(text),
    signers: [...signers],
    keys,
    ...(roots ? { roots } : {}),
  };
}

async function importKeys(policy: Policy, now: InForce): Promise<DelegatedKey[]> {
  const seen = new Set<string>();
  const out: DelegatedKey[] = [];
  for (const [i, k] of policy.keys.entries()) {
    const at = `keys.${i}`;
    if (seen.has(k.kid))
      throw new TrustRefusal('invalid-policy', `${at}.kid: duplicate kid ${k.kid}`);
    seen.add(k.kid);
    if (now.roots.get(k.kid) || now.reservedKids.has(k.kid))
      throw new TrustRefusal(
        'invalid-policy',
        `${at}.kid: ${k.kid} is already a root or a local key`,
      );
    if (k.jwk.kid !== undefined && k.jwk.kid !== k.kid)
      throw new TrustRefusal('invalid-policy', `${at}.jwk.kid: differs from kid ${k.kid}`);
    if (k.nbf !== undefined && k.exp !== undefined && k.exp <= k.nbf)
      throw new TrustRefusal('invalid-policy', `${at}.exp: not after nbf`);
    if (k.plcs && !k.roles.includes('commands'))
      throw new TrustRefusal('invalid-policy', `${at}.plcs: only for a key with role commands`);
    if (k.targets && !k.roles.includes('ota'))
      throw new TrustRefusal('invalid-policy', `${at}.targets: only for a key with role ota`);
    let pinned: PinnedKey;
    try {
      pinned = await pinKey({ ...k.jwk, kid: k.kid }, `${at}.jwk`);
    } catch (e) {
      if (isKeyError(e)) throw new TrustRefusal('invalid-policy', e.message);
      throw e;
    }
    const { jwk: _jwk, ...grant } = k;
    out.push({ ...grant, pinned });
  }
  return out;
}

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

function iso(s: number): string {
  return new Date(s * 1000).toISOString();
}
