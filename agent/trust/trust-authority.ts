// Who may sign what, now. The one place that answers "is this kid allowed role R (and scope S) now":
// local keys (commands.keys: roles commands + config; ota.keys: role ota), the keys delegated by the trust
// policy in force (roles, plcs, targets, nbf/exp; fail closed once the policy expired), the revoked kids,
// and the roots (which sign policies, and only where a caller allows it, e.g. cert/renew).
import type { ProtectedHeaderParameters } from 'jose';
import { KeyRing, type KeyResolver, type PinnedKey } from '../../platform/signature/key-ring.js';
import { SignatureError } from '../../platform/signature/errors.js';
import {
  peekHeader,
  verifyCompactJws,
  type VerifiedJws,
} from '../../platform/signature/verify-jws.js';
import type { DelegatedKey } from './policy.js';
import type { Role } from './roles.js';
import { matchesAny } from './plc-glob.js';

/** What a kid was found to be allowed, for logs and audit. */
export interface Grant {
  kid: string;
  source: 'local' | 'policy' | 'root';
  roles: readonly Role[];
  plcs?: readonly string[];
  targets?: readonly string[];
  exp?: number;
}

export interface AuthorizeOptions {
  /** For role commands: the PLC id; for role ota: the target (agent, plc-map). */
  scope?: string;
  /** A root may act in this role too (cert/renew). Roots never sign commands, config or OTA. */
  allowRoot?: boolean;
  /** Epoch seconds; default now. */
  nowSeconds?: number;
}

/** The policy part the authority needs. */
export interface DelegationInForce {
  version: number;
  exp: number;
  keys: readonly DelegatedKey[];
  revoked: readonly string[];
}

const LOCAL_ROLES: Record<'commands' | 'ota', readonly Role[]> = {
  // As before trust policies: a commands key also signs config/set.
  commands: ['commands', 'config'],
  ota: ['ota'],
};

export class TrustAuthority {
  private revoked = new Set<string>();
  private delegated = new Map<string, DelegatedKey>();
  private delegation: DelegationInForce | undefined;

  constructor(
    private local: { commands: KeyRing; ota: KeyRing },
    private roots: KeyRing,
    private readonly toleranceSeconds = 0,
  ) {}

  static async create(opts: {
    commandsKeys: readonly Record<string, unknown>[];
    otaKeys: readonly Record<string, unknown>[];
    roots: KeyRing;
    toleranceSeconds?: number;
  }): Promise<TrustAuthority> {
    return new TrustAuthority(
      {
        commands: await KeyRing.load(opts.commandsKeys, 'commands.keys'),
        ota: await KeyRing.load(opts.otaKeys, 'ota.keys'),
      },
      opts.roots,
      opts.toleranceSeconds,
    );
  }

  /** New local keys (a config change). Throws KeyError and keeps the old ones if one is bad. */
  async setLocalKeys(
    commandsKeys: readonly Record<string, unknown>[],
    otaKeys: readonly Record<string, unknown>[],
  ): Promise<void> {
    const commands = await KeyRing.load(commandsKeys, 'commands.keys');
    const ota = await KeyRing.load(otaKeys, 'ota.keys');
    this.local = { commands, ota };
  }

  setRoots(roots: KeyRing): void {
    this.roots = roots;
  }

  setDelegation(d: DelegationInForce | undefined): void {
    this.delegation = d;
    this.delegated = new Map((d?.keys ?? []).map((k) => [k.kid, k]));
    this.revoked = new Set(d?.revoked ?? []);
  }

  isRevoked(kid: string): boolean {
    return this.revoked.has(kid);
  }

  get rootRing(): KeyRing {
    return this.roots;
  }

  /** Kids a delegated key may not take. */
  localKids(): Set<string> {
    return new Set([...this.local.commands.kids(), ...this.local.ota.kids()]);
  }

  /**
   * The keys that may verify a document for this role (the verifier's key lookup). A revoked kid throws
   * SignatureError revoked-key: a policy that revokes a key usually drops its public key too, and the
   * refusal must still say revoked (CONTRACT §6), not unknown, wherever the lookup is used (OTA manifests).
   */
  resolverFor(role: Role, allowRoot = false): KeyResolver {
    return {
      get: (kid: string): PinnedKey | undefined => {
        if (this.revoked.has(kid))
          throw new SignatureError('revoked-key', kid, `key ${kid} is revoked by trust policy`);
        const local = this.localFor(role, kid);
        if (local) return local;
        const d = this.delegated.get(kid);
        if (d) return d.pinned;
        return allowRoot ? this.roots.get(kid) : undefined;
      },
    };
  }

  /**
   * Verify a compact JWS and check its signer may act in `role` (and `scope`) now. Throws
   * SignatureError with the reason (malformed, unknown-key, bad-alg, bad-signature, revoked-key,
   * key-expired, key-not-yet-valid, policy-expired, wrong-role, out-of-scope).
   */
  async verify(
    text: string,
    role: Role,
    opts: AuthorizeOptions = {},
  ): Promise<VerifiedJws & { grant: Grant; header: ProtectedHeaderParameters }> {
    // A revoked kid is refused by name even when the policy no longer carries its public key.
    const kid = peekHeader(text)?.kid;
    if (typeof kid === 'string' && this.revoked.has(kid))
      throw new SignatureError('revoked-key', kid, `key ${kid} is revoked by trust policy`);
    const v = await verifyCompactJws(text, this.resolverFor(role, opts.allowRoot));
    return { ...v, grant: this.authorize(v.kid, role, opts) };
  }

  /** Is this kid allowed role R (and scope S) now? Returns the grant or throws SignatureError. */
  authorize(kid: string, role: Role, opts: AuthorizeOptions = {}): Grant {
    const now = opts.nowSeconds ?? Date.now() / 1000;
    const tol = this.toleranceSeconds;
    // Revocation wins over everything, local keys included: it only ever takes power away.
    if (this.revoked.has(kid))
      throw new SignatureError('revoked-key', kid, `key ${kid} is revoked by trust policy`);
    if (this.localFor(role, kid)) {
      const roles = this.local.commands.get(kid) ? LOCAL_ROLES.commands : LOCAL_ROLES.ota;
      return { kid, source: 'local', roles };
    }
    const d = this.delegated.get(kid);
    if (d) {
      const p = this.delegation!;
      if (p.exp <= now - tol)
        throw new SignatureError(
          'policy-expired',
          kid,
          `the trust policy (version ${p.version}) that delegated ${kid} expired at ${iso(p.exp)}`,
        );
      if (d.exp !== undefined && d.exp <= now - tol)
        throw new SignatureError('key-expired', kid, `key ${kid} expired at ${iso(d.exp)}`);
      if (d.nbf !== undefined && d.nbf > now + tol)
        throw new SignatureError(
          'key-not-yet-valid',
          kid,
          `key ${kid} is valid from ${iso(d.nbf)}`,
        );
      if (!d.roles.includes(role))
        throw new SignatureError(
          'wrong-role',
          kid,
          `key ${kid} is delegated ${d.roles.join(', ')}, not ${role}`,
        );
      if (opts.scope !== undefined) {
        if (role === 'commands' && d.plcs && !matchesAny(opts.scope, d.plcs))
          throw new SignatureError(
            'out-of-scope',
            kid,
            `key ${kid} may command PLCs ${d.plcs.join(', ')}, not ${opts.scope}`,
          );
        if (role === 'ota' && d.targets && !d.targets.includes(opts.scope as 'agent'))
          throw new SignatureError(
            'out-of-scope',
            kid,
            `key ${kid} may sign OTA for ${d.targets.join(', ')}, not ${opts.scope}`,
          );
      }
      return {
        kid,
        source: 'policy',
        roles: d.roles,
        ...(d.plcs ? { plcs: d.plcs } : {}),
        ...(d.targets ? { targets: d.targets } : {}),
        ...(d.exp !== undefined ? { exp: d.exp } : {}),
      };
    }
    if (this.roots.get(kid)) {
      if (opts.allowRoot) return { kid, source: 'root', roles: [role] };
      throw new SignatureError(
        'wrong-role',
        kid,
        `${kid} is a root: roots sign trust policies only`,
      );
    }
    if (this.local.commands.get(kid) || this.local.ota.get(kid))
      throw new SignatureError('wrong-role', kid, `local key ${kid} is not a ${role} key`);
    throw new SignatureError('unknown-key', kid, `no key with kid ${kid}`);
  }

  private localFor(role: Role, kid: string): PinnedKey | undefined {
    if (role === 'commands' || role === 'config') return this.local.commands.get(kid);
    if (role === 'ota') return this.local.ota.get(kid);
    return undefined;
  }
}

function iso(s: number): string {
  return new Date(s * 1000).toISOString();
}
