// Where the config comes from: a file, GATEWAY_CONFIG_YAML, then env vars (balena variables), which win.
import { hostname } from 'node:os';
import type { GatewayConfig } from './schema.js';
import {
  isUnderBalena,
  readConfigDocument,
  type Env,
  type SourceOptions,
} from '../../platform/config-source.js';
import { validateConfig } from './validate.js';

export { isUnderBalena, resolveDataDir, type Env } from '../../platform/config-source.js';

export type LoadOptions = SourceOptions;

/** A validated config plus what was resolved from the environment. */
export interface ResolvedConfig {
  config: GatewayConfig;
  tenant: string;
  gatewayId: string;
  dataDir: string;
  httpPort: number;
  configPath: string;
  /** Where the config document came from (file path, GATEWAY_CONFIG_YAML or defaults). */
  source: string;
  underBalena: boolean;
}

/** Apply the env vars of CONTRACT.md §2 on top of a parsed document (env wins). */
export function applyEnv(doc: Record<string, unknown>, env: Env): Record<string, unknown> {
  const out = structuredClone(doc) as Record<string, Record<string, unknown>>;
  const section = (k: string) => (out[k] ??= {});
  if (env.WMS_MQTT_URL?.trim())
    section('wms').urls = env.WMS_MQTT_URL.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (env.WMS_TENANT) section('gateway').tenant = env.WMS_TENANT;
  if (env.GATEWAY_ID) section('gateway').id = env.GATEWAY_ID;
  const tls: Record<string, string> = {};
  if (env.WMS_CA) tls.ca = env.WMS_CA;
  if (env.WMS_CERT) tls.cert = env.WMS_CERT;
  if (env.WMS_KEY) tls.key = env.WMS_KEY;
  if (Object.keys(tls).length)
    section('wms').tls = { ...((section('wms').tls as object) ?? {}), ...tls };
  if (env.HTTP_PORT !== undefined && env.HTTP_PORT !== '') {
    const port = Number(env.HTTP_PORT);
    // Keep the raw text when it is not a number so validation names HTTP_PORT's field.
    section('http').port = Number.isInteger(port) ? port : env.HTTP_PORT;
  }
  return out;
}

export function loadConfig(opts: LoadOptions = {}): ResolvedConfig {
  const env = opts.env ?? process.env;
  const { doc, source, configPath, dataDir } = readConfigDocument(opts);
  const config = validateConfig(applyEnv(doc, env), source);
  return resolveConfig(config, { env, dataDir, configPath, source });
}

export function resolveConfig(
  config: GatewayConfig,
  ctx: { env: Env; dataDir: string; configPath: string; source: string },
): ResolvedConfig {
  const { env } = ctx;
  const underBalena = isUnderBalena(env);
  return {
    config,
    tenant: config.gateway.tenant ?? 'demo',
    gatewayId: config.gateway.id ?? env.BALENA_DEVICE_UUID ?? sanitizeId(hostname()),
    dataDir: ctx.dataDir,
    httpPort: config.http.port ?? (underBalena ? 80 : 8080),
    configPath: ctx.configPath,
    source: ctx.source,
    underBalena,
  };
}

function sanitizeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 128) || 'gateway';
}
