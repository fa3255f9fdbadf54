// Which devices belong to which wave. A percentage is cumulative over a stable hash of the uuid, so
// the same device always lands in the same bucket (0 <= bucket < 100) across runs and machines;
// a device goes to the first wave that matches it.
import { createHash } from 'node:crypto';
import type { FleetDevice } from '../balena/cloud-api-client.js';
import type { WaveSpec } from './plan.js';

export function bucketOf(uuid: string): number {
  const h = createHash('sha256').update(uuid.toLowerCase()).digest();
  return (h.readUInt32BE(0) % 10_000) / 100;
}

export function matchesWave(d: Pick<FleetDevice, 'uuid' | 'tags'>, w: WaveSpec): boolean {
  if (w.tag && d.tags[w.tag.key] !== w.tag.value) return false;
  if (w.percent !== undefined && bucketOf(d.uuid) >= w.percent) return false;
  return true;
}

/** Devices per wave (same order as waves), plus those no wave matches. */
export function assignWaves<D extends Pick<FleetDevice, 'uuid' | 'tags'>>(
  devices: D[],
  waves: WaveSpec[],
): { waves: D[][]; unassigned: D[] } {
  const out: D[][] = waves.map(() => []);
  const unassigned: D[] = [];
  for (const d of [...devices].sort((a, b) => a.uuid.localeCompare(b.uuid))) {
    const i = waves.findIndex((w) => matchesWave(d, w));
    if (i === -1) unassigned.push(d);
    else out[i]!.push(d);
  }
  return { waves: out, unassigned };
}
