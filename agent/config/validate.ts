// Parse + validate a config document; every problem comes back with its dotted path.
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type GatewayConfig } from './schema.js';
import { ConfigError, type ConfigIssue } from './errors.js';

export const MAX_CONFIG_BYTES = 1024 * 1024; // a balena variable holds up to 1 MB

function zodIssues(error: z.ZodError): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const i of error.issues) {
    // Unions report each branch; show the branch errors rather than "invalid input".
    if (i.code === 'invalid_union' && 'errors' in i && Array.isArray(i.errors) && i.errors.length) {
      const branch = (i.errors as z.core.$ZodIssue[][]).sort((a, b) => a.length - b.length)[0]!;
      for (const b of branch)
        out.push({ path: [...i.path, ...b.path].map(String).join('.'), message: b.message });
      continue;
    }
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys)
        out.push({ path: [...i.path, k].map(String).join('.'), message: 'unknown field' });
      continue;
    }
    const missing = i.code === 'invalid_type' && i.input === undefined;
    out.push({ path: i.path.map(String).join('.'), message: missing ? 'is required' : i.message });
  }
  return out;
}

/** Validate an already-parsed object. Throws ConfigError listing every problem. */
export function validateConfig(doc: unknown, source = 'config'): GatewayConfig {
  const res = configSchema.safeParse(doc ?? {});
  if (!res.success) throw new ConfigError(zodIssues(res.error), source);
  return res.data;
}

/** Parse YAML (a superset of JSON) text, bounded in size. Throws ConfigError. */
export function parseConfigText(text: string, source = 'config'): unknown {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES)
    throw new ConfigError([{ path: '', message: `larger than ${MAX_CONFIG_BYTES} bytes` }], source);
  try {
    const doc = parseYaml(text, { maxAliasCount: 100 }) as unknown;
    if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc)))
      throw new ConfigError(
        [{ path: '', message: 'must be a mapping of sections (gateway, wms, plcs, ...)' }],
        source,
      );
    return doc ?? {};
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    throw new ConfigError([{ path: '', message: `not valid YAML/JSON: ${msg}` }], source);
  }
}
