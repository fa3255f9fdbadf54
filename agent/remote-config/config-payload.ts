// A verified `config/set` payload → the config to apply: its claims (`version`, `iat`, `exp`, `nbf`)
// taken out and checked, the version it will carry (newer than the one in force, or the next one),
// the environment applied over it (CONTRACT.md §2) and the whole validated against the schema.
import { createHash } from 'node:crypto';
import type { GatewayConfig } from '../config/schema.js';
import { applyEnv, type Env } from '../config/load.js';
import { isConfigError } from '../../platform/config-error.js';
import { MAX_CONFIG_BYTES, parseConfigText, validateConfig } from '../config/validate.js';
import { configToText } from '../../platform/config-yaml.js';
import { checkTimes } from '../commands/claims.js';
import { RejectedError } from '../commands/rejection.js';

/** Claims beside the config sections in the payload; removed before validation. */
const CLAIMS = ['version', 'iat', 'exp', 'nbf'] as const;

export interface ConfigPayload {
  config: GatewayConfig;
  /** The document as stored (YAML, claims removed, env not applied). */
  text: string;
  version: number;
  sha256: string;
}

export interface ConfigPayloadContext {
  toleranceSeconds: number;
  /** The version of the config in force: a claimed one must be newer. */
  versionInForce: number;
  env?: Env | undefined;
  /** Epoch ms, read when the claims' times are checked. */
  now(): number;
}

/** Throws RejectedError (malformed, bad-claim, stale-version, invalid-config, or a time claim's). */
export function readConfigPayload(payload: Uint8Array, o: ConfigPayloadContext): ConfigPayload {
  const text = Buffer.from(payload).toString('utf8');
  let doc: Record<string, unknown>;
  let config: GatewayConfig;
  try {
    doc = { ...(parseConfigText(text, 'config/set') as Record<string, unknown>) };
  } catch (e) {
    if (isConfigError(e))
      throw new RejectedError(
        'malformed',
        undefined,
        e.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '),
      );
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
    nowSeconds: o.now() / 1000,
    toleranceSeconds: o.toleranceSeconds,
    maxLifetimeSeconds: Number.MAX_SAFE_INTEGER,
  });
  let version = o.versionInForce + 1;
  if (claims.version !== undefined) {
    if (!Number.isSafeInteger(claims.version) || (claims.version as number) < 1)
      throw new RejectedError('bad-claim', 'version', 'a positive integer');
    version = claims.version as number;
    if (version <= o.versionInForce)
      throw new RejectedError(
        'stale-version',
        String(version),
        `the config in force is version ${o.versionInForce}`,
      );
  }
  try {
    config = validateConfig(o.env ? applyEnv(doc, o.env) : doc, 'config/set');
  } catch (e) {
    if (!isConfigError(e)) throw e;
    const first = e.issues
      .slice(0, 5)
      .map((i) => `${i.path || '(root)'}: ${i.message}`)
      .join('; ');
    throw new RejectedError('invalid-config', e.issues[0]?.path || undefined, first);
  }
  // Written to applied.yaml and read back at the next start, through the same 1 MiB limit.
  return { config, text: configToText(doc, MAX_CONFIG_BYTES), version, sha256: sha256(payload) };
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
