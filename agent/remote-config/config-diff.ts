// What a config change does, for the audit log and the operator log: never secrets, only ids and flags.
import { isDeepStrictEqual } from 'node:util';
import type { GatewayConfig } from '../config/schema.js';

export interface ConfigChange {
  plcsAdded: string[];
  plcsRemoved: string[];
  plcsChanged: string[];
  /** Sections other than plcs whose content differs (e.g. wms, commands). */
  sectionsChanged: string[];
}

export function diffConfig(prev: GatewayConfig, next: GatewayConfig): ConfigChange {
  const before = new Map(prev.plcs.map((p) => [p.id, p]));
  const after = new Map(next.plcs.map((p) => [p.id, p]));
  const sections = (Object.keys(next) as (keyof GatewayConfig)[]).filter(
    (k) => k !== 'plcs' && !isDeepStrictEqual(prev[k], next[k]),
  );
  return {
    plcsAdded: [...after.keys()].filter((id) => !before.has(id)),
    plcsRemoved: [...before.keys()].filter((id) => !after.has(id)),
    plcsChanged: [...after.keys()].filter(
      (id) => before.has(id) && !isDeepStrictEqual(before.get(id), after.get(id)),
    ),
    sectionsChanged: sections,
  };
}
