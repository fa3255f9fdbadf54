// The `ota:` section of the config (CONTRACT.md §2), owned by ota/: the agent's schema includes it, and
// the launcher validates only this section, so it never loads the agent's or the PLCs' schemas.
import { z } from 'zod';
import { ConfigError } from '../../platform/config-error.js';
import { issuesFromZod } from '../../platform/zod-issues.js';
import { jwkSchema, sizeSchema } from '../../platform/config-fields.js';
import { readConfigDocument, type SourceOptions } from '../../platform/config-source.js';

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
  })
  .prefault({});

export type OtaConfig = z.output<typeof otaSchema>;

/**
 * Only the `ota:` section of the config document (the launcher's view): validated with its own schema,
 * problems reported with their `ota.` paths. Throws ConfigError.
 */
export function readOtaConfig(opts: SourceOptions = {}): OtaConfig {
  const { doc, source } = readConfigDocument(opts);
  const res = otaSchema.safeParse(doc.ota ?? {});
  if (!res.success)
    throw new ConfigError(
      issuesFromZod(res.error).map((i) => ({ ...i, path: i.path ? `ota.${i.path}` : 'ota' })),
      source,
    );
  return res.data;
}
