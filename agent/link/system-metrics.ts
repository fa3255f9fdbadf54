// CPU load, memory use and disk use (of the filesystem holding the data dir) for the heartbeat, via
// systeminformation. A probe that fails yields null for that field rather than no heartbeat at all.
import { realpathSync } from 'node:fs';
import si from 'systeminformation';

export interface SystemMetrics {
  /** Percent, one decimal. */
  cpu: number | null;
  mem: number | null;
  disk: number | null;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export async function systemMetrics(dataDir: string): Promise<SystemMetrics> {
  const [load, mem, fs] = await Promise.allSettled([si.currentLoad(), si.mem(), si.fsSize()]);
  let disk: number | null = null;
  if (fs.status === 'fulfilled') {
    let dir = dataDir;
    try {
      dir = realpathSync(dataDir);
    } catch {
      /* not created yet: match on the configured path */
    }
    // The filesystem holding dataDir is the mount with the longest matching prefix.
    const best = fs.value
      .filter(
        (f) => dir === f.mount || dir.startsWith(f.mount.endsWith('/') ? f.mount : f.mount + '/'),
      )
      .sort((a, b) => b.mount.length - a.mount.length)[0];
    if (best && best.size > 0) disk = round1((best.used / best.size) * 100);
  }
  return {
    cpu: load.status === 'fulfilled' ? round1(load.value.currentLoad) : null,
    mem:
      mem.status === 'fulfilled' && mem.value.total > 0
        ? round1(((mem.value.total - mem.value.available) / mem.value.total) * 100)
        : null,
    disk,
  };
}
