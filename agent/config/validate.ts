// Parse + validate a config document; every problem comes back with its dotted path.
import { configSchema, type GatewayConfig } from './schema.js';
import { ConfigError } from '../../platform/config-error.js';
import { issuesFromZod } from '../../platform/zod-issues.js';

export { MAX_CONFIG_BYTES, parseConfigText } from '../../platform/config-source.js';

/**
 * Validate an already-parsed object. Throws ConfigError listing every problem.
 * A tags list that the document shares through a YAML alias (`tags: *line`) comes out shared too:
 * zod copies each use, which at 8 PLCs × 12,500 aliased tags is 100,000 tag objects where 12,500
 * hold the same values (docs/PERFORMANCE.md). The validated tag objects are frozen, so a consumer
 * that would change one for its own PLC fails loudly instead of changing every PLC's.
 */
export function validateConfig(doc: unknown, source = 'config'): GatewayConfig {
  const res = configSchema.safeParse(doc ?? {});
  if (!res.success) throw new ConfigError(issuesFromZod(res.error), source);
  shareAliasedTags(doc, res.data);
  return res.data;
}

function shareAliasedTags(doc: unknown, config: GatewayConfig): void {
  const inPlcs = (doc as { plcs?: unknown } | null)?.plcs;
  if (!Array.isArray(inPlcs)) return;
  const outOf = new Map<unknown, GatewayConfig['plcs'][number]['groups'][number]['tags']>();
  config.plcs.forEach((plc, pi) => {
    const inGroups = (inPlcs[pi] as { groups?: unknown[] } | undefined)?.groups;
    plc.groups.forEach((g, gi) => {
      const inTags = inGroups?.[gi] && (inGroups[gi] as { tags?: unknown }).tags;
      const first = outOf.get(inTags);
      if (first) g.tags = first;
      else {
        for (const t of g.tags) Object.freeze(t);
        Object.freeze(g.tags);
        outOf.set(inTags, g.tags);
      }
    });
  });
}
