// Is a `cert/issued` answer one the gateway may take as its new identity? Everything in it is hostile
// until checked: size, shape, the pending CSR it answers, the PEM, that it is not a certificate we
// already had, the key, the subject, the validity and the chain to identity.issuerCa. Each refusal has
// a stable kebab-case reason for cert/state.
import type { KeyObject, X509Certificate } from 'node:crypto';
import {
  certInfo,
  certMatchesKey,
  chainProblem,
  parseCertificates,
  type CertInfo,
} from './certificate.js';

export const ISSUED_REFUSAL_REASONS = [
  'too-large',
  'malformed',
  'no-pending-csr',
  'unknown-id',
  'bad-certificate',
  'replayed',
  'key-mismatch',
  'wrong-subject',
  'expired',
  'not-yet-valid',
  'wrong-usage',
  'untrusted',
  'no-issuer-ca',
] as const;
export type IssuedRefusalReason = (typeof ISSUED_REFUSAL_REASONS)[number];

export class IssuedRefusal extends Error {
  constructor(
    readonly reason: IssuedRefusalReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'IssuedRefusal';
  }
}
export function isIssuedRefusal(e: unknown): e is IssuedRefusal {
  return e instanceof IssuedRefusal;
}

export interface IssuedContext {
  pending: { id: string; key: () => Promise<KeyObject> } | undefined;
  gatewayId: string;
  /** identity.issuerCa (or wms.tls.ca) as PEM text; undefined when none is configured. */
  issuerCaPem: string | undefined;
  /** SHA-256 fingerprints of certificates this gateway already had (current, previous, refused). */
  known: ReadonlySet<string>;
  maxBytes: number;
  maxChainLength: number;
  clockToleranceMs: number;
  now: Date;
}

export interface AcceptedCertificate {
  id: string;
  leaf: X509Certificate;
  info: CertInfo;
  /** Leaf then intermediates, as the client sends them in the handshake. */
  pem: string;
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export async function checkIssued(
  payload: Buffer,
  ctx: IssuedContext,
): Promise<AcceptedCertificate> {
  if (payload.length > ctx.maxBytes)
    throw new IssuedRefusal(
      'too-large',
      `${payload.length} bytes > identity.maxIssuedBytes ${ctx.maxBytes}`,
    );
  let msg: unknown;
  try {
    msg = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new IssuedRefusal('malformed', 'not JSON');
  }
  const m = msg as { id?: unknown; cert?: unknown; chain?: unknown };
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg))
    throw new IssuedRefusal('malformed', 'not a JSON object');
  if (typeof m.id !== 'string' || m.id.length > 200)
    throw new IssuedRefusal('malformed', 'id must be a string');
  if (typeof m.cert !== 'string') throw new IssuedRefusal('malformed', 'cert must be a PEM string');
  const chainPems = m.chain ?? [];
  if (!Array.isArray(chainPems) || !chainPems.every((c) => typeof c === 'string'))
    throw new IssuedRefusal('malformed', 'chain must be an array of PEM strings');
  if (chainPems.length > ctx.maxChainLength)
    throw new IssuedRefusal(
      'malformed',
      `chain has ${chainPems.length} certificates > identity.maxChainLength ${ctx.maxChainLength}`,
    );
  if (!ctx.pending) throw new IssuedRefusal('no-pending-csr', `no CSR is waiting (id ${m.id})`);
  if (m.id !== ctx.pending.id)
    throw new IssuedRefusal('unknown-id', `answers ${m.id}, the pending CSR is ${ctx.pending.id}`);

  let leaf: X509Certificate;
  let chain: X509Certificate[];
  try {
    const certs = parseCertificates(m.cert);
    if (certs.length !== 1) throw new Error(`cert holds ${certs.length} certificates, not 1`);
    leaf = certs[0]!;
    chain = (chainPems as string[]).flatMap((c) => parseCertificates(c));
  } catch (e) {
    throw new IssuedRefusal('bad-certificate', (e as Error).message.slice(0, 200));
  }
  const info = certInfo(leaf);
  if (ctx.known.has(info.fingerprint256))
    throw new IssuedRefusal('replayed', `certificate ${info.serial} was already used`);
  if (!certMatchesKey(leaf, await ctx.pending.key()))
    throw new IssuedRefusal(
      'key-mismatch',
      `certificate ${info.serial} is not for the pending key`,
    );
  if (info.cn !== ctx.gatewayId)
    throw new IssuedRefusal(
      'wrong-subject',
      `subject CN ${info.cn ?? '(none)'} is not ${ctx.gatewayId}`,
    );
  const now = ctx.now.getTime();
  if (info.notAfter.getTime() <= now)
    throw new IssuedRefusal('expired', `expired at ${info.notAfter.toISOString()}`);
  if (info.notBefore.getTime() > now + ctx.clockToleranceMs)
    throw new IssuedRefusal('not-yet-valid', `valid from ${info.notBefore.toISOString()}`);
  if (leaf.ca)
    throw new IssuedRefusal('wrong-usage', 'a CA certificate cannot be a client identity');
  const eku = leaf.keyUsage;
  if (eku && eku.length > 0 && !eku.includes(CLIENT_AUTH))
    throw new IssuedRefusal('wrong-usage', 'extended key usage does not allow TLS client auth');
  if (!ctx.issuerCaPem)
    throw new IssuedRefusal(
      'no-issuer-ca',
      'neither identity.issuerCa nor wms.tls.ca is configured',
    );
  let anchors: X509Certificate[];
  try {
    anchors = parseCertificates(ctx.issuerCaPem);
  } catch (e) {
    throw new IssuedRefusal('no-issuer-ca', `identity.issuerCa: ${(e as Error).message}`);
  }
  const problem = chainProblem(leaf, chain, anchors, ctx.now);
  if (problem) throw new IssuedRefusal('untrusted', problem);
  return { id: m.id, leaf, info, pem: [leaf, ...chain].map((c) => c.toString()).join('') };
}
