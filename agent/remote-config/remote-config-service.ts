// `config/set` → a whole new config, applied hot or not at all. A JWS (signed by a key in commands.keys)
// whose payload is a config document, optionally with claims `version` (integer), `iat`, `exp`.
// Valid and newer → apply → persist → retained `config/state`. If apply fails, the previous config is
// applied again and config/state says why. One config/set is handled at a time.
// Beside it: config-set-opening.ts (the signature), config-payload.ts (claims, version, validation).
import { join } from 'node:path';
import type { GatewayConfig } from '../config/schema.js';
import type { Env } from '../config/load.js';
import { MAX_CONFIG_BYTES } from '../config/validate.js';
import type { Logger } from '../../platform/logger.js';
import type { AuditLog } from '../audit/audit-log.js';
import { KeyRing } from '../../platform/signature/key-ring.js';
import { isKeyError } from '../../platform/signature/errors.js';
import { TrustAuthority } from '../trust/trust-authority.js';
import { RejectedError, isRejectedError } from '../commands/rejection.js';
import { readConfigPayload, sha256, type ConfigPayload } from './config-payload.js';
import { configSha256 } from './config-hash.js';
import { openConfigSet } from './config-set-opening.js';
import { assertNoTrustChange } from './trust-guard.js';
import { ConfigStore, type ConfigState } from './config-store.js';
import { diffConfig } from './config-diff.js';

/** A config is ≤ 1 MiB of text; its JWS is base64url (4/3) plus header and signature. */
export const MAX_CONFIG_SET_BYTES = Math.ceil((MAX_CONFIG_BYTES * 4) / 3) + 8 * 1024;
/**
 * Sections the running agent applies hot (the core's applyConfig and the command service); a change
 * to any other section (ota, health, maintenance, http, ...) is stored and reported
 * `pending-restart` until the next start reads it (the launcher and diagnose read it too).
 */
export const HOT_SECTIONS: readonly string[] = ['plcs', 'wms', 'commands'];

export interface StatePublisher {
  publishRetained(subtopic: string, payload: unknown): unknown;
  alert?(level: 'warning' | 'critical', code: string, message: string): unknown;
}

export interface RemoteConfigOptions {
  /** The config in force at start (the validated local file, env applied). */
  current: GatewayConfig;
  dataDir: string;
  /** Hot-apply hook (the gateway's): PLCs added/removed/changed, WMS reconnect, commands.reconfigure. */
  apply(config: GatewayConfig): Promise<void>;
  /** After apply: throw to roll back (e.g. confirmLinkUp: the WMS link must come up with new wms settings). */
  confirm?(config: GatewayConfig, previous: GatewayConfig): Promise<void>;
  link: StatePublisher;
  audit: AuditLog;
  logger: Logger;
  /** Environment variables that win over the config (CONTRACT.md §2), applied to remote configs too. */
  env?: Env;
  /** Who may sign config/set (role config). Without it: the config's own commands.keys. */
  trust?: TrustAuthority;
  now?: () => number;
}

/** Reasons that mean nobody authenticated the message: such refusals cost no disk write (floods). */
const UNVERIFIED = new Set([
  'malformed',
  'too-large',
  'unsigned',
  'bad-signature',
  'bad-alg',
  'unknown-key',
]);
/** Audit entries waiting for the disk beyond which unverified refusals are counted, not audited. */
export const AUDIT_BACKLOG_FOR_UNVERIFIED = 16;

export class RemoteConfigService {
  private chain: Promise<unknown> = Promise.resolve();
  private keyCache: { source: unknown; trust: Promise<TrustAuthority> } | undefined;
  /** Unverified refusals not audited because the audit backlog was full. */
  auditSkipped = 0;
  private current: GatewayConfig;
  private state: ConfigState;

  private constructor(
    private readonly opts: RemoteConfigOptions,
    private readonly store: ConfigStore,
  ) {
    this.current = opts.current;
    const local: ConfigState = {
      version: 0,
      sha256: configSha256(opts.current),
      appliedAt: new Date(this.now()).toISOString(),
      status: 'local',
    };
    this.state = store.state ?? local;
    // This start read the stored config: what waited for a restart is in force now.
    if (this.state.status === 'pending-restart') {
      this.state = { ...this.state, status: 'applied' };
      delete this.state.pendingRestart;
    }
  }

  /** Opens $DATA_DIR/config and publishes the retained config/state. */
  static async create(opts: RemoteConfigOptions): Promise<RemoteConfigService> {
    const store = await ConfigStore.open(join(opts.dataDir, 'config'), {
      historyLength: opts.current.commands.configHistory,
    });
    const svc = new RemoteConfigService(opts, store);
    svc.publish();
    return svc;
  }

  /** The last remote config applied, to start from after a restart (undefined if none). */
  static async appliedText(dataDir: string): Promise<string | undefined> {
    const store = await ConfigStore.open(join(dataDir, 'config'), { historyLength: 1 });
    return store.appliedText();
  }

  get configState(): ConfigState {
    return { ...this.state };
  }

  get config(): GatewayConfig {
    return this.current;
  }

  /** Handle one raw `config/set` payload; resolves with the resulting state (never rejects). */
  handle(raw: Buffer | Uint8Array | string): Promise<ConfigState> {
    const run = () => this.process(typeof raw === 'string' ? Buffer.from(raw) : Buffer.from(raw));
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async process(buf: Buffer): Promise<ConfigState> {
    let kid: string | null = null;
    let attempted: ConfigState['attempted'];
    let next: ConfigPayload;
    try {
      if (buf.length > MAX_CONFIG_SET_BYTES)
        throw new RejectedError(
          'too-large',
          undefined,
          `${buf.length} bytes > ${MAX_CONFIG_SET_BYTES}`,
        );
      const opened = await openConfigSet(buf.toString('utf8').trim(), {
        authority: () => this.authority(),
        requireSignature: this.current.commands.requireSignature,
        now: () => this.now(),
      });
      kid = opened.kid;
      attempted = { sha256: sha256(opened.payload) };
      next = readConfigPayload(opened.payload, {
        toleranceSeconds: this.current.commands.clockToleranceSeconds,
        versionInForce: this.state.version,
        env: this.opts.env,
        now: () => this.now(),
      });
      attempted.version = next.version;
      assertNoTrustChange(this.current, next.config);
      // Unchanged keys were checked when they came into force; this only catches a bad local file.
      for (const [keys, path] of [
        [next.config.commands.keys, 'commands.keys'],
        [next.config.ota.keys, 'ota.keys'],
      ] as const)
        await KeyRing.load(keys, path).catch((e: unknown) => {
          throw isKeyError(e) ? new RejectedError('invalid-config', e.path, e.detail) : e;
        });
    } catch (e) {
      const err = isRejectedError(e)
        ? e
        : new RejectedError('malformed', undefined, (e as Error).message);
      return this.refused(
        'rejected',
        err.reason,
        kid,
        attempted,
        undefined,
        UNVERIFIED.has(err.code) && kid === null,
      );
    }
    const change = diffConfig(this.current, next.config);
    const previous = this.current;
    try {
      await this.opts.apply(next.config);
      await this.opts.confirm?.(next.config, previous);
    } catch (e) {
      const why = `apply failed: ${(e as Error).message}`;
      this.opts.logger.error(
        { err: e, version: next.version },
        'remote config could not be applied; rolling back',
      );
      let error = why;
      try {
        await this.opts.apply(previous);
      } catch (e2) {
        error += `; rollback also failed: ${(e2 as Error).message}`;
        this.opts.logger.fatal({ err: e2 }, 'rollback to the previous config failed');
        this.opts.link.alert?.('critical', 'config.rollback-failed', error);
      }
      return this.refused('rolled_back', error, kid, attempted, change);
    }
    this.current = next.config;
    const restart = change.sectionsChanged.filter((k) => !HOT_SECTIONS.includes(k));
    this.state = {
      version: next.version,
      sha256: next.sha256,
      appliedAt: new Date(this.now()).toISOString(),
      status: restart.length ? 'pending-restart' : 'applied',
      ...(restart.length ? { pendingRestart: restart } : {}),
    };
    try {
      await this.store.saveApplied(next.text, this.state);
    } catch (e) {
      // Applied but not persisted: after a restart the previous one comes back; say so rather than hide it.
      this.state.error = `applied but not saved: ${(e as Error).message}`;
      this.opts.logger.error(
        { err: e, version: next.version },
        'applied config could not be persisted',
      );
    }
    this.publish();
    this.opts.logger.info(
      { version: next.version, sha256: next.sha256, kid, ...change },
      'remote config applied',
    );
    await this.audit(kid, next.version, { sha256: next.sha256, ...change }, 'applied');
    return this.configState;
  }

  /**
   * The trust authority in force; without one (a service used alone), one from commands.keys,
   * imported once per key list, not once per message (a flood of junk JWS).
   */
  private authority(): Promise<TrustAuthority> {
    if (this.opts.trust) return Promise.resolve(this.opts.trust);
    const source = this.current.commands.keys;
    if (this.keyCache?.source !== source) {
      const trust = KeyRing.load([]).then((roots) =>
        TrustAuthority.create({ commandsKeys: source, otaKeys: [], roots }),
      );
      trust.catch(() => undefined);
      this.keyCache = { source, trust };
    }
    return this.keyCache.trust;
  }

  private async refused(
    status: 'rejected' | 'rolled_back',
    error: string,
    kid: string | null,
    attempted: ConfigState['attempted'],
    change?: object,
    unverified = false,
  ): Promise<ConfigState> {
    const { version, sha256: sha, appliedAt } = this.state;
    this.state = {
      version,
      sha256: sha,
      appliedAt,
      status,
      error,
      ...(attempted ? { attempted } : {}),
    };
    // A refusal of a message nobody authenticated is published, not written to disk: junk on
    // config/set must not cost an fsync each (the config in force did not change).
    if (!unverified)
      await this.store
        .saveStatus(this.state)
        .catch((e: unknown) => this.opts.logger.error({ err: e }, 'could not save config state'));
    this.publish();
    this.opts.logger.warn({ status, error, kid, attempted }, `remote config ${status}`);
    if (status === 'rolled_back') this.opts.link.alert?.('warning', 'config.rolled-back', error);
    if (unverified && this.opts.audit.pending >= AUDIT_BACKLOG_FOR_UNVERIFIED) {
      if (++this.auditSkipped % 1000 === 1)
        this.opts.logger.warn(
          { auditSkipped: this.auditSkipped },
          'audit backlog full: refusals of unverified config/set counted, not audited',
        );
      return this.configState;
    }
    await this.audit(kid, attempted?.version ?? null, { ...attempted, ...change }, status, error);
    return this.configState;
  }

  private publish(): void {
    try {
      void Promise.resolve(this.opts.link.publishRetained('config/state', this.configState)).catch(
        (e: unknown) => this.opts.logger.warn({ err: e }, 'could not publish config/state'),
      );
    } catch (e) {
      this.opts.logger.warn({ err: e }, 'could not publish config/state');
    }
  }

  private audit(
    kid: string | null,
    id: number | null,
    what: object,
    outcome: 'applied' | 'rejected' | 'rolled_back',
    reason?: string,
  ) {
    return this.opts.audit
      .append({
        kind: 'config',
        who: kid,
        id,
        what: { ...what },
        outcome,
        ...(reason ? { reason } : {}),
      })
      .catch((e: unknown) => this.opts.logger.error({ err: e }, 'could not write the audit log'));
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}
