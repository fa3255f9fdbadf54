// One sample of the machine's resources, shared by the health monitor and `diagnose`.
import { statfs } from 'node:fs/promises';
import si from 'systeminformation';

export interface ResourceSample {
  cpuPct: number;
  memPct: number;
  memTotalBytes: number;
  /** Use of the file system holding the data dir. */
  diskPct: number;
  diskFreeBytes: number;
  /** CPU temperature in °C, absent where the board has no sensor. */
  temperatureC?: number | undefined;
  /** Default network interface and whether it is up. */
  network?: { iface: string; up: boolean; ip4?: string | undefined } | undefined;
}

export const SAMPLE_TIMEOUT_MS = 5000;

async function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([p.catch(() => fallback), t]);
  } finally {
    clearTimeout(timer);
  }
}

export async function diskUsage(dir: string): Promise<{ pct: number; freeBytes: number }> {
  const s = await statfs(dir);
  const total = s.blocks * s.bsize;
  // Like df: use is measured against what non-root users can get (bavail), not raw free blocks.
  const used = (s.blocks - s.bfree) * s.bsize;
  const avail = s.bavail * s.bsize;
  const pct = used + avail > 0 ? (used / (used + avail)) * 100 : 0;
  return { pct: total > 0 ? pct : 0, freeBytes: avail };
}

export async function sampleResources(
  dataDir: string,
  timeoutMs = SAMPLE_TIMEOUT_MS,
): Promise<ResourceSample> {
  const [load, mem, temp, iface, disk] = await Promise.all([
    withTimeout(si.currentLoad(), timeoutMs, undefined),
    withTimeout(si.mem(), timeoutMs, undefined),
    withTimeout(si.cpuTemperature(), timeoutMs, undefined),
    withTimeout(si.networkInterfaces('default'), timeoutMs, undefined),
    diskUsage(dataDir).catch(() => ({ pct: 0, freeBytes: 0 })),
  ]);
  const net = Array.isArray(iface) ? iface[0] : iface;
  // `active` excludes caches and buffers: what the processes really hold.
  const memPct = mem && mem.total > 0 ? (mem.active / mem.total) * 100 : 0;
  return {
    cpuPct: load?.currentLoad ?? 0,
    memPct,
    memTotalBytes: mem?.total ?? 0,
    diskPct: disk.pct,
    diskFreeBytes: disk.freeBytes,
    temperatureC: typeof temp?.main === 'number' && temp.main > 0 ? temp.main : undefined,
    network: net
      ? { iface: net.iface, up: net.operstate === 'up' || net.internal, ip4: net.ip4 || undefined }
      : undefined,
  };
}
