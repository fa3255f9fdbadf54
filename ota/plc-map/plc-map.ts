// A PLC register map shipped as a bundle of its own (target: plc-map): one plcs.{yaml,yml,json} file.
import { isConfigSyntaxError, parseYamlValue } from '../../platform/config-yaml.js';
import { plcsSchema, type PlcConfig } from '../../plc/config/schema.js';
import { OtaRefusal } from '../errors.js';

export const PLC_MAP_FILES = ['plcs.yaml', 'plcs.yml', 'plcs.json'] as const;

/** Parse and validate a map: a `plcs` list, bare or under a `plcs:` key. Throws OtaRefusal naming the field. */
export function parsePlcMap(text: string, source: string): PlcConfig[] {
  let doc: unknown;
  try {
    // The config's parser (no syntax tree, aliases bounded): a map is as large as a config's plcs.
    doc = parseYamlValue(text);
  } catch (e) {
    if (!isConfigSyntaxError(e)) throw e;
    throw new OtaRefusal('bad-manifest', `${source}: ${e.path ? `${e.path}: ` : ''}${e.message}`);
  }
  const list =
    doc && typeof doc === 'object' && !Array.isArray(doc) && 'plcs' in doc
      ? (doc as { plcs: unknown }).plcs
      : doc;
  const res = plcsSchema.safeParse(list);
  if (!res.success) {
    const i = res.error.issues[0]!;
    throw new OtaRefusal('bad-manifest', `${source}: plcs.${i.path.join('.')}: ${i.message}`);
  }
  return res.data;
}
