// The `ota:` section of the config (CONTRACT.md §2), owned by ota/: the agent's schema includes it, and
// the launcher validates only this section, so it never loads the agent's or the PLCs' schemas.
import { z } from 'zod';
import { ConfigError } from '../../platform/config-error.js';
import { issuesFromZod } from '../../platform/zod-issues.js';
import { jwkSchema, sizeSchema } from '../../platform/config-fields.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  readConfigDocument,
  resolveDataDir,
  type SourceOptions,
} from '../../platform/config-source.js';

export const otaSchema = z
  .strictObject({
    keys: z
      .array(jwkSchema)
      .default([])
      .describe('Public keys (JWK, Ed25519 or ES256) allowed to sign OTA bundles'),
    minHealthySeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(60)
      .describe('Probation a new slot must stay healthy for'),
    probationGraceSeconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(30)
      .describe('Extra time a new slot gets to become healthy before probation fails'),
    crashLoop: z
      .strictObject({
        exits: z.number().int().min(1).default(3),
        windowSeconds: z.number().int().min(1).default(60),
      })
      .prefault({}),
    maxBundleBytes: sizeSchema(1024, 4 * 1024 ** 3)
      .default(256 * 1024 ** 2)
      .describe('Largest OTA bundle accepted (default 256MiB)'),
    deviceType: z
      .string()
      .optional()
      .describe('Overrides BALENA_DEVICE_TYPE for requires.deviceTypes'),
    ring: z.string().optional().describe('Rollout ring of this gateway (e.g. canary)'),
    sources: z
      .array(
        z
          .string()
          .regex(
            /^(\*\.)?([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/,
            'a host, host:port or *.domain',
          ),
      )
      .max(100)
      .default([])
      .describe(
        'Hosts an unsigned {"url"} offer may be fetched from (host, host:port, *.domain); default none: a signed manifest is needed',
      ),
    switch: z
      .enum(['window', 'now'])
      .optional()
      .describe(
        'When an agent update switches: in the next maintenance window, or now; default now without maintenance.windows, window with them. A manifest signed with "now": true switches at once',
      ),
    downloadDeadlineSeconds: z
      .number()
      .int()
      .min(10)
      .max(7 * 86_400)
      .default(3600)
      .describe('A bundle download (all attempts) not done after this long is abandoned (timeout)'),
  })
  .prefault({});

export type OtaConfig = z.output<typeof otaSchema>;

/**
 * Only the `ota:` section of the config document (the launcher's view): validated with its own schema,
 * problems reported with their `ota.` paths. Throws ConfigError.
 */
export function readOtaConfig(opts: SourceOptions = {}): OtaConfig {
  const applied = appliedConfigText(resolveDataDir(opts));
  if (applied !== undefined) {
    // The remotely applied config (config/set) is the one in force, as for the agent at start; an
    // unusable one falls back to the local file, as the agent does.
    try {
      return otaSection(
        readConfigDocument({
          ...opts,
          env: { ...(opts.env ?? process.env), GATEWAY_CONFIG_YAML: applied },
        }),
      );
    } catch {
      /* the local file below */
    }
  }
  return otaSection(readConfigDocument(opts));
}

/** `$DATA_DIR/config/applied.yaml`: the last config applied by config/set, if any. */
export function appliedConfigText(dataDir: string): string | undefined {
  try {
    const t = readFileSync(join(dataDir, 'config', 'applied.yaml'), 'utf8');
    return t.trim() ? t : undefined;
  } catch {
    return undefined;
  }
}

function otaSection({ doc, source }: { doc: Record<string, unknown>; source: string }): OtaConfig {
  const res = otaSchema.safeParse(doc.ota ?? {});
  if (!res.success)
    throw new ConfigError(
      issuesFromZod(res.error).map((i) => ({ ...i, path: i.path ? `ota.${i.path}` : 'ota' })),
      source,
    );
  return res.data;
}
