// A reading as the edge node keeps it in the outbox: its values with the birth of its device in force
// when it was stored. When it is sent — perhaps after an outage, a rebirth or a restart — that tells a
// live reading from one to be sent as historical metrics (Sparkplug 3.0: isHistorical), by alias.
import type { TagValue } from '../../plc/codec/codec.js';
import type { DataRecord } from '../link/link-format.js';
import type { AliasTable } from './aliases.js';
import { setMetricValue } from './datatypes.js';
import type { SpMetric } from './payload-codec.js';

export interface StoredReading {
  ts: string;
  values: Record<string, TagValue>;
  quality: Record<string, 'bad'>;
  /** The birth of the device in force when the reading was stored ('' when none). */
  b: string;
}

/** The outbox record of a reading taken while `birth` was the device's birth in force. */
export function storeReading(data: DataRecord, birth: string): Buffer {
  // The values rendered already (the change filter's pass): the same text JSON.stringify(r) gives.
  if (data.valuesJson !== undefined)
    return Buffer.from(
      `{"ts":${JSON.stringify(data.ts)},"values":${data.valuesJson},"quality":${JSON.stringify(data.quality)},"b":${JSON.stringify(birth)}}`,
    );
  const r: StoredReading = {
    ts: data.ts,
    values: data.values as Record<string, TagValue>,
    quality: data.quality,
    b: birth,
  };
  return Buffer.from(JSON.stringify(r));
}

/** Throws on a record that is not JSON (the caller skips it). */
export function readStoredReading(payload: Buffer): StoredReading {
  return JSON.parse(payload.toString('utf8')) as StoredReading;
}

/** The DDATA metrics of a stored reading: by alias, bad quality as null, tags no longer configured left out. */
export function readingMetrics(
  rec: StoredReading,
  device: string,
  aliases: AliasTable,
  historical: boolean,
): SpMetric[] {
  const tsMs = Date.parse(rec.ts);
  const metrics: SpMetric[] = [];
  const add = (name: string, v: TagValue | null) => {
    const def = aliases.byTag(device, name);
    if (!def) return; // a tag the config no longer has
    const m: SpMetric = { alias: def.alias, timestamp: tsMs, datatype: def.datatype };
    if (historical) m.isHistorical = true;
    metrics.push(setMetricValue(m, def.datatype, v));
  };
  for (const [name, v] of Object.entries(rec.values)) add(name, v);
  for (const name of Object.keys(rec.quality)) add(name, null);
  return metrics;
}
