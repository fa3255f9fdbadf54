// Parse + validate a config document; every problem comes back with its dotted path.
import { configSchema, type GatewayConfig } from './schema.js';
import { ConfigError } from '../../platform/config-error.js';
import { issuesFromZod } from '../../platform/zod-issues.js';

export { MAX_CONFIG_BYTES, parseConfigText } from '../../platform/config-source.js';

/** Validate an already-parsed object. Throws ConfigError listing every problem. */
export function validateConfig(doc: unknown, source = 'config'): GatewayConfig {
  const res = configSchema.safeParse(doc ?? {});
  if (!res.success) throw new ConfigError(issuesFromZod(res.error), source);
  return res.data;
}
