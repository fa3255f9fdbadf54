// Where the config document comes from, before any section is validated: GATEWAY_CONFIG_YAML, else the
// file (--config, GATEWAY_CONFIG, $DATA_DIR/gateway.yaml), else defaults. Shared by the agent, which
// validates the whole document, and the launcher, which validates only its `ota:` section.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from './config-error.js';
import { isConfigSyntaxError, parseYamlValue } from './config-yaml.js';

export type Env = Record<string, string | undefined>;

export interface SourceOptions {
  configPath?: string | undefined;
  dataDir?: string | undefined;
  env?: Env;
}

export const MAX_CONFIG_BYTES = 1024 * 1024; // a balena variable holds up to 1 MB

export function isUnderBalena(env: Env): boolean {
  return Boolean(env.BALENA_SUPERVISOR_ADDRESS || env.BALENA_DEVICE_UUID || env.BALENA === '1');
}

export function resolveDataDir(opts: SourceOptions): string {
  const env = opts.env ?? process.env;
  return resolve(opts.dataDir ?? env.DATA_DIR ?? (isUnderBalena(env) ? '/data' : './data'));
}

/** The parsed (not yet validated) document, where it came from, and the config file's path. */
export function readConfigDocument(opts: SourceOptions = {}): {
  doc: Record<string, unknown>;
  source: string;
  configPath: string;
  dataDir: string;
} {
  const env = opts.env ?? process.env;
  const dataDir = resolveDataDir(opts);
  const configPath = resolve(
    opts.configPath ?? env.GATEWAY_CONFIG ?? join(dataDir, 'gateway.yaml'),
  );
  let doc: unknown = {};
  let source = 'defaults';
  if (env.GATEWAY_CONFIG_YAML?.trim()) {
    source = 'GATEWAY_CONFIG_YAML';
    doc = parseConfigText(env.GATEWAY_CONFIG_YAML, source);
  } else if (existsSync(configPath)) {
    source = configPath;
    doc = parseConfigText(readFileSync(configPath, 'utf8'), source);
  } else if (opts.configPath ?? env.GATEWAY_CONFIG) {
    throw new ConfigError([{ path: '', message: 'file not found' }], configPath);
  }
  return { doc: doc as Record<string, unknown>, source, configPath, dataDir };
}

/**
 * Parse YAML (a superset of JSON) text, bounded in size and in alias expansion (MAX_CONFIG_VALUES).
 * Throws ConfigError naming the line and column, or the field whose aliases expand too far.
 */
export function parseConfigText(text: string, source = 'config'): unknown {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES)
    throw new ConfigError([{ path: '', message: `larger than ${MAX_CONFIG_BYTES} bytes` }], source);
  let doc: unknown;
  try {
    doc = parseYamlValue(text);
  } catch (e) {
    if (!isConfigSyntaxError(e)) throw e;
    throw new ConfigError([{ path: e.path, message: e.message }], source);
  }
  if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc)))
    throw new ConfigError(
      [{ path: '', message: 'must be a mapping of sections (gateway, wms, plcs, ...)' }],
      source,
    );
  return doc ?? {};
}
