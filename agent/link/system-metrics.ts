// CPU load, memory use and disk use (of the filesystem holding the data dir) for the heartbeat, from
// the same process-free sampler as the health monitor (nothing forks beside the poll loop). A probe
// that fails yields null for that field rather than no heartbeat at all.
import { sampleResources } from '../health/resources.js';

export interface SystemMetrics {
  /** Percent, one decimal. */
  cpu: number | null;
  mem: number | null;
  disk: number | null;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export async function systemMetrics(dataDir: string): Promise<SystemMetrics> {
  try {
    const s = await sampleResources(dataDir);
    return {
      cpu: round1(s.cpuPct),
      mem: s.memTotalBytes > 0 ? round1(s.memPct) : null,
      disk: s.diskFreeBytes > 0 || s.diskPct > 0 ? round1(s.diskPct) : null,
    };
  } catch {
    return { cpu: null, mem: null, disk: null };
  }
}
