// Publisher side of trust policies (offline, where the root private keys are): sign a policy with one or
// more roots, and describe what a signed policy grants. The gateway side is policy.ts + trust-service.ts.
import { CompactSign, importJWK, type JWK } from 'jose';
import { algOfJwk, containsPrivateKey } from '../../platform/signature/key-ring.js';
import { peekHeader } from '../../platform/signature/verify-jws.js';
import { policySchema, splitSignatures, TrustRefusal, type Policy } from './policy.js';

export const POLICY_TYP = 'wms-gateway-trust+jws';

/** Check a policy document before signing: schema, and never a private key inside. Throws TrustRefusal. */
export function checkPolicyDocument(doc: unknown): Policy {
  if (containsPrivateKey(doc))
    throw new TrustRefusal('private-key', 'the policy holds a private key (a "d" member)');
  const parsed = policySchema.safeParse(doc);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new TrustRefusal('invalid-policy', `${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return parsed.data;
}

/**
 * Sign the policy bytes with each root private key. One key: a compact JWS; several: a JSON array of
 * compact JWS of the same payload (CONTRACT.md §6).
 */
export async function signPolicy(
  policy: object | string,
  rootPrivateJwks: readonly JWK[],
): Promise<string> {
  if (rootPrivateJwks.length === 0) throw new Error('at least one root private key is needed');
  const bytes = Buffer.from(typeof policy === 'string' ? policy : JSON.stringify(policy));
  const out: string[] = [];
  for (const jwk of rootPrivateJwks) {
    const alg = algOfJwk(jwk as Record<string, unknown>);
    if (!alg || !('d' in jwk))
      throw new Error(`key ${jwk.kid ?? '?'}: not an ES256/EdDSA private JWK`);
    if (!jwk.kid) throw new Error('the root key has no kid');
    const key = await importJWK(jwk, alg);
    out.push(
      await new CompactSign(bytes)
        .setProtectedHeader({ alg, kid: jwk.kid, typ: POLICY_TYP })
        .sign(key),
    );
  }
  return out.length === 1 ? out[0]! : JSON.stringify(out);
}

export interface PolicyDescription {
  signers: string[];
  policy: Policy;
}

/** What a signed policy says, unverified (inspect verifies separately when given the roots). */
export function describePolicy(text: string): PolicyDescription {
  const jws = splitSignatures(text.trim());
  const signers = jws.map((s) => String(peekHeader(s)?.kid ?? '?'));
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(jws[0]!.split('.')[1]!, 'base64url').toString('utf8'));
  } catch {
    throw new TrustRefusal('malformed', 'the policy is not JSON');
  }
  return { signers, policy: checkPolicyDocument(doc) };
}

/** Human-readable lines of what the policy grants. */
export function formatPolicy(d: PolicyDescription, nowSeconds = Date.now() / 1000): string[] {
  const p = d.policy;
  const when = (s: number) => new Date(s * 1000).toISOString();
  const lines = [
    `version   ${p.version}`,
    `issued    ${when(p.iat)}`,
    `expires   ${when(p.exp)}${p.exp <= nowSeconds ? '  (EXPIRED)' : ''}`,
    `signed by ${d.signers.join(', ')}`,
  ];
  if (p.roots)
    lines.push(
      `roots     ${p.roots.map((r) => String(r.kid ?? '(thumbprint)')).join(', ')} (rotation: these replace the current roots)`,
    );
  if (p.threshold !== undefined) lines.push(`threshold ${p.threshold}`);
  lines.push(`keys      ${p.keys.length}`);
  for (const k of p.keys) {
    const scope = [
      k.roles.join('+'),
      k.roles.includes('commands') ? `plcs ${(k.plcs ?? ['*']).join(',')}` : '',
      k.roles.includes('ota') ? `targets ${(k.targets ?? ['agent', 'plc-map']).join(',')}` : '',
      k.nbf !== undefined ? `from ${when(k.nbf)}` : '',
      k.exp !== undefined ? `until ${when(k.exp)}${k.exp <= nowSeconds ? ' (EXPIRED)' : ''}` : '',
    ].filter(Boolean);
    lines.push(`  ${k.kid}: ${scope.join('; ')}`);
  }
  lines.push(`revoked   ${p.revoked.length ? p.revoked.join(', ') : '(none)'}`);
  return lines;
}
