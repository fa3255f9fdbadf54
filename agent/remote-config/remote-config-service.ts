// `config/set` → a whole new config, applied hot or not at all. A JWS (signed by a key in commands.keys)
// whose payload is a config document, optionally with claims `version` (integer), `iat`, `exp`.
// Valid and newer → apply → persist → retained `config/state`. If apply fails, the previous config is
// applied again and config/state says why. One config/set is handled at a time.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { GatewayConfig } from '../config/schema.js';
import { applyEnv, type Env } from '../config/load.js';
import { isConfigError } from '../../platform/config-error.js';
import { parseConfigText, validateConfig, MAX_CONFIG_BYTES } from '../config/validate.js';
import type { Logger } from '../../platform/logger.js';
import type { AuditLog } from '../audit/audit-log.js';
import { KeySet, isKeyError } from '../commands/key-set.js';
import { looksLikeCompactJws, verifyCompactJws } from '../commands/verify-jws.js';
import { checkTimes } from '../commands/claims.js';
import { RejectedError, isRejectedError } from '../commands/rejection.js';
import { ConfigStore, type ConfigState } from './config-store.js';
import { diffConfig } from './config-diff.js';

/** A config is ≤ 1 MiB of text; its JWS is base64url (4/3) plus header and signature. */
export const MAX_CONFIG_SET_BYTES = Math.ceil((MAX_CONFIG_BYTES * 4) / 3) + 8 * 1024;
/** Claims beside the config sections in the payload; removed before validation. */
const CLAIMS = ['version', 'iat', 'exp', 'nbf'] as const;

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
  now?: () => number;
}

export class RemoteConfigService {
  private chain: Promise<unknown> = Promise.resolve();
  private current: GatewayConfig;
  private state: ConfigState;

  private constructor(
    private readonly opts: RemoteConfigOptions,
    private readonly store: ConfigStore,
  ) {
    this.current = opts.current;
    const local: ConfigState = {
      version: 0,
      sha256: sha256(JSON.stringify(opts.current)),
      appliedAt: new Date(this.now()).toISOString(),
      status: 'local',
    };
    this.state = store.state ?? local;
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
    let next: { config: GatewayConfig; text: string; version: number; sha256: string };
    try {
      if (buf.length > MAX_CONFIG_SET_BYTES)
        throw new RejectedError(
          'too-large',
          undefined,
          `${buf.length} bytes > ${MAX_CONFIG_SET_BYTES}`,
        );
      const opened = await this.open(buf.toString('utf8').trim());
      kid = opened.kid;
      attempted = { sha256: sha256(opened.payload) };
      next = this.validate(opened.payload);
      attempted.version = next.version;
      await KeySet.load(next.config.commands.keys).catch((e: unknown) => {
        throw isKeyError(e)
          ? new RejectedError('invalid-config', e.path, e.message.slice(e.path.length + 2))
          : e;
      });
    } catch (e) {
      const err = isRejectedError(e)
        ? e
        : new RejectedError('malformed', undefined, (e as Error).message);
      return this.refused('rejected', err.reason, kid, attempted);
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
    this.state = {
      version: next.version,
      sha256: next.sha256,
      appliedAt: new Date(this.now()).toISOString(),
      status: 'applied',
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

  private async open(text: string): Promise<{ kid: string | null; payload: Uint8Array }> {
    if (looksLikeCompactJws(text)) {
      const keys = await KeySet.load(this.current.commands.keys);
      const v = await verifyCompactJws(text, keys);
      return { kid: v.kid, payload: v.payload };
    }
    if (this.current.commands.requireSignature)
      throw new RejectedError(
        'unsigned',
        undefined,
        'config/set must be a compact JWS (commands.requireSignature is true)',
      );
    return { kid: null, payload: Buffer.from(text) };
  }

  private validate(payload: Uint8Array) {
    const text = Buffer.from(payload).toString('utf8');
    let doc: Record<string, unknown>;
    let config: GatewayConfig;
    try {
      doc = { ...(parseConfigText(text, 'config/set') as Record<string, unknown>) };
    } catch (e) {
      if (isConfigError(e))
        throw new RejectedError('malformed', undefined, e.issues.map((i) => i.message).join('; '));
      throw e;
    }
    const claims: Partial<Record<(typeof CLAIMS)[number], unknown>> = {};
    for (const k of CLAIMS)
      if (k in doc) {
        claims[k] = doc[k];
        delete doc[k];
      }
    for (const k of ['iat', 'exp', 'nbf'] as const)
      if (claims[k] !== undefined && (typeof claims[k] !== 'number' || !Number.isFinite(claims[k])))
        throw new RejectedError('bad-claim', k, 'seconds since 1970 (NumericDate)');
    checkTimes(claims as { iat?: number; exp?: number; nbf?: number }, {
      nowSeconds: this.now() / 1000,
      toleranceSeconds: this.current.commands.clockToleranceSeconds,
      maxLifetimeSeconds: Number.MAX_SAFE_INTEGER,
    });
    let version = this.state.version + 1;
    if (claims.version !== undefined) {
      if (!Number.isSafeInteger(claims.version) || (claims.version as number) < 1)
        throw new RejectedError('bad-claim', 'version', 'a positive integer');
      version = claims.version as number;
      if (version <= this.state.version)
        throw new RejectedError(
          'stale-version',
          String(version),
          `the config in force is version ${this.state.version}`,
        );
    }
    try {
      config = validateConfig(this.opts.env ? applyEnv(doc, this.opts.env) : doc, 'config/set');
    } catch (e) {
      if (!isConfigError(e)) throw e;
      const first = e.issues
        .slice(0, 5)
        .map((i) => `${i.path || '(root)'}: ${i.message}`)
        .join('; ');
      throw new RejectedError('invalid-config', e.issues[0]?.path || undefined, first);
    }
    return { config, text: toYaml(doc), version, sha256: sha256(payload) };
  }

  private async refused(
    status: 'rejected' | 'rolled_back',
    error: string,
    kid: string | null,
    attempted: ConfigState['attempted'],
    change?: object,
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
    await this.store
      .saveStatus(this.state)
      .catch((e: unknown) => this.opts.logger.error({ err: e }, 'could not save config state'));
    this.publish();
    this.opts.logger.warn({ status, error, kid, attempted }, `remote config ${status}`);
    if (status === 'rolled_back') this.opts.link.alert?.('warning', 'config.rolled-back', error);
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

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
