// `trust/set` → a new trust policy in force, or a refusal with a stable reason; retained `trust/state`
// answers every try; every applied or refused policy goes to the audit log. Roots come from the local file
// or GATEWAY_TRUST_ROOTS, or from the last policy that rotated them — unless the operator changed the
// local roots since (then the local file wins: that is how a lost root is recovered).
import { join } from 'node:path';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { AuditLog } from '../audit/audit-log.js';
import { KeyRing } from '../../platform/signature/key-ring.js';
import { checkPolicy, isTrustRefusal, sha256, TrustRefusal } from './policy.js';
import { TrustAuthority } from './trust-authority.js';
import { TrustStore, type LoadedPolicy } from './trust-store.js';
import { ExpiryAlerts } from './expiry-alerts.js';

export interface TrustState {
  version: number;
  sha256: string | null;
  roots: string[];
  threshold: number;
  keys: { kid: string; roles: string[]; plcs?: string[]; targets?: string[]; exp?: number }[];
  revoked: string[];
  exp?: number;
  appliedAt: string | null;
  status: 'applied' | 'rejected';
  error?: string;
  attempted?: { sha256?: string; version?: number };
}

export interface TrustLink {
  publishRetained(subtopic: string, payload: unknown): unknown;
  alert?(level: 'warning' | 'critical', code: string, message: string): unknown;
}

export interface TrustServiceOptions {
  config: GatewayConfig;
  dataDir: string;
  link: TrustLink;
  audit: AuditLog;
  logger: Logger;
  now?: () => number;
}

/** How often expiry alerts are looked for. */
export const EXPIRY_CHECK_MS = 60 * 60 * 1000;

export class TrustService {
  private chain: Promise<unknown> = Promise.resolve();
  private status: Pick<TrustState, 'status' | 'error' | 'attempted'> = { status: 'applied' };
  private timer: NodeJS.Timeout | undefined;
  private readonly alerts: ExpiryAlerts;

  private constructor(
    private readonly opts: TrustServiceOptions,
    readonly authority: TrustAuthority,
    private readonly store: TrustStore,
    private readonly localRootsSha: string,
    private inForce: LoadedPolicy | undefined,
    private threshold: number,
  ) {
    this.alerts = new ExpiryAlerts(opts.config.trust.alertDays);
  }

  /** Loads roots, local keys and the stored policy (throws KeyError naming a bad local key or root). */
  static async create(opts: TrustServiceOptions): Promise<TrustService> {
    const { config, logger } = opts;
    const localRoots = config.trust.roots as Record<string, unknown>[];
    const localRootsSha = sha256(JSON.stringify(localRoots));
    const localRing = await KeyRing.load(localRoots, 'trust.roots');
    const store = new TrustStore(join(opts.dataDir, 'trust'));
    let stored: LoadedPolicy | undefined;
    try {
      stored = await store.load();
    } catch (e) {
      // Fail closed: without a readable policy only the local keys sign anything.
      logger.error(
        { err: e, file: store.path },
        'stored trust policy unreadable; delegated keys off',
      );
      opts.link.alert?.(
        'critical',
        'trust.store-unreadable',
        `${store.path}: ${(e as Error).message}`,
      );
    }
    let roots = localRing;
    let threshold = config.trust.threshold;
    if (stored && stored.localRootsSha !== localRootsSha) {
      // The operator changed the roots in the local file: theirs win over any rotation by policy.
      if (stored.roots)
        logger.warn(
          { policy: stored.policy.version },
          'trust.roots changed in the local file since the policy that rotated the roots: the local roots are in force',
        );
      delete stored.roots;
      delete stored.threshold;
    }
    if (stored?.roots) roots = await KeyRing.load(stored.roots, 'trust policy roots');
    if (stored?.threshold) threshold = stored.threshold;
    const authority = await TrustAuthority.create({
      commandsKeys: config.commands.keys,
      otaKeys: config.ota.keys,
      roots,
      toleranceSeconds: config.trust.clockToleranceSeconds,
    });
    const svc = new TrustService(opts, authority, store, localRootsSha, stored, threshold);
    svc.putInForce(stored);
    if (stored && authority.localKids().size)
      for (const k of stored.keys)
        if (authority.localKids().has(k.kid))
          logger.warn({ kid: k.kid }, 'a delegated kid is also a local key: the local key wins');
    svc.publish();
    svc.checkExpiry();
    svc.timer = setInterval(() => svc.checkExpiry(), EXPIRY_CHECK_MS);
    svc.timer.unref();
    return svc;
  }

  get state(): TrustState {
    const p = this.inForce;
    return {
      version: p?.policy.version ?? 0,
      sha256: p?.sha256 ?? null,
      roots: this.authority.rootRing.kids(),
      threshold: this.threshold,
      keys: (p?.keys ?? []).map((k) => ({
        kid: k.kid,
        roles: [...k.roles],
        ...(k.plcs ? { plcs: [...k.plcs] } : {}),
        ...(k.targets ? { targets: [...k.targets] } : {}),
        ...(k.exp !== undefined ? { exp: k.exp } : {}),
      })),
      revoked: [...(p?.policy.revoked ?? [])],
      ...(p ? { exp: p.policy.exp } : {}),
      appliedAt: p?.appliedAt ?? null,
      ...this.status,
    };
  }

  /** Handle one raw `trust/set` payload; resolves with the resulting state (never rejects). */
  handle(raw: Buffer | Uint8Array | string): Promise<TrustState> {
    const run = () => this.process(Buffer.from(raw as Uint8Array));
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async process(buf: Buffer): Promise<TrustState> {
    const text = buf.toString('utf8');
    // sha256 of the bytes received: the WMS matches the answer to what it sent.
    const received = sha256(buf);
    let attempted: TrustState['attempted'] = { sha256: received };
    try {
      const checked = await checkPolicy(
        text,
        {
          version: this.inForce?.policy.version ?? 0,
          roots: this.authority.rootRing,
          threshold: this.threshold,
          reservedKids: this.authority.localKids(),
        },
        {
          maxBytes: this.opts.config.trust.maxPolicyBytes,
          nowSeconds: this.now() / 1000,
          toleranceSeconds: this.opts.config.trust.clockToleranceSeconds,
        },
      );
      attempted = { sha256: received, version: checked.policy.version };
      const rootsAfter = checked.roots
        ? checked.roots.map((r) => ({ ...r.jwk, kid: r.kid }))
        : this.inForce?.roots;
      const threshold = checked.policy.threshold ?? this.threshold;
      const next: LoadedPolicy = {
        text: checked.text,
        sha256: checked.sha256,
        signers: checked.signers,
        appliedAt: new Date(this.now()).toISOString(),
        localRootsSha: this.localRootsSha,
        ...(rootsAfter ? { roots: rootsAfter } : {}),
        threshold,
        policy: checked.policy,
        keys: checked.keys,
      };
      const { policy: _p, keys: _k, ...stored } = next;
      // Persisted before it is in force: after a crash either the old or the new one is in force.
      await this.store.save(stored);
      const newRoots = checked.roots ? KeyRing.of(checked.roots) : undefined;
      this.threshold = threshold;
      if (newRoots) this.authority.setRoots(newRoots);
      this.putInForce(next);
      this.status = { status: 'applied', attempted };
      this.alerts.reset();
      this.publish();
      this.opts.logger.info(
        {
          version: checked.policy.version,
          sha256: checked.sha256,
          signers: checked.signers,
          keys: checked.keys.map((k) => k.kid),
          revoked: checked.policy.revoked,
          rootsRotated: Boolean(newRoots),
        },
        'trust policy applied',
      );
      await this.audit(checked.signers, checked.policy.version, 'applied', {
        sha256: checked.sha256,
        keys: checked.keys.map((k) => ({ kid: k.kid, roles: k.roles, plcs: k.plcs, exp: k.exp })),
        revoked: checked.policy.revoked,
        ...(newRoots ? { roots: newRoots.kids(), threshold } : {}),
      });
      this.checkExpiry();
    } catch (e) {
      const refusal = isTrustRefusal(e)
        ? e
        : new TrustRefusal('malformed', `internal error: ${(e as Error).message}`);
      if (!isTrustRefusal(e))
        this.opts.logger.error({ err: e }, 'trust/set check failed unexpectedly');
      const error = `${refusal.reason} (${refusal.message.slice(0, 300)})`;
      this.status = { status: 'rejected', error, attempted };
      this.publish();
      this.opts.logger.warn(
        { reason: refusal.reason, attempted },
        `trust policy refused: ${refusal.message}`,
      );
      this.opts.link.alert?.('warning', 'trust.refused', `trust/set refused: ${error}`);
      await this.audit([], attempted.version ?? null, 'rejected', { ...attempted }, error);
    }
    return this.state;
  }

  private putInForce(p: LoadedPolicy | undefined): void {
    this.inForce = p;
    this.authority.setDelegation(
      p && {
        version: p.policy.version,
        exp: p.policy.exp,
        keys: p.keys,
        revoked: p.policy.revoked,
      },
    );
  }

  private checkExpiry(): void {
    for (const a of this.alerts.due(this.inForce, this.now() / 1000)) {
      this.opts.logger.warn({ code: a.code }, a.message);
      this.opts.link.alert?.(a.level, a.code, a.message);
    }
  }

  private publish(): void {
    try {
      void Promise.resolve(this.opts.link.publishRetained('trust/state', this.state)).catch(
        (e: unknown) => this.opts.logger.warn({ err: e }, 'could not publish trust/state'),
      );
    } catch (e) {
      this.opts.logger.warn({ err: e }, 'could not publish trust/state');
    }
  }

  private audit(
    signers: string[],
    version: number | null,
    outcome: 'applied' | 'rejected',
    what: Record<string, unknown>,
    reason?: string,
  ): Promise<void> {
    return this.opts.audit
      .append({
        kind: 'trust',
        who: signers.length ? signers.join(',') : null,
        id: version,
        what,
        outcome,
        ...(reason ? { reason } : {}),
      })
      .catch((e: unknown) => this.opts.logger.error({ err: e }, 'could not write the audit log'));
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
