// One sample of the machine's resources, shared by the health monitor and `diagnose`.
import { readdir, readFile, statfs } from 'node:fs/promises';
import { cpus, freemem, networkInterfaces, totalmem } from 'node:os';

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

/**
 * One sample without spawning processes (this runs beside the poll loop; systeminformation's
 * probes fork `df`, `ip`, `sensors`... and some block in spawnSync): CPU from os.cpus() deltas,
 * memory from /proc/meminfo, temperature from /sys/class/thermal, network from /proc/net/route and
 * /sys/class/net, disk from statfs.
 */
export async function sampleResources(
  dataDir: string,
  timeoutMs = SAMPLE_TIMEOUT_MS,
): Promise<ResourceSample> {
  const [cpuPct, mem, temp, net, disk] = await Promise.all([
    withTimeout(cpuBusyPct(), timeoutMs, 0),
    withTimeout(memory(), timeoutMs, undefined),
    withTimeout(temperature(), timeoutMs, undefined),
    withTimeout(defaultInterface(), timeoutMs, undefined),
    diskUsage(dataDir).catch(() => ({ pct: 0, freeBytes: 0 })),
  ]);
  return {
    cpuPct,
    memPct: mem ? mem.usedPct : 0,
    memTotalBytes: mem?.total ?? 0,
    diskPct: disk.pct,
    diskFreeBytes: disk.freeBytes,
    temperatureC: temp,
    network: net,
  };
}

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

let lastCpu: { busy: number; total: number; at: number } | undefined;

/** Busy share of all cores since the previous sample (the first one measures over 200 ms). */
async function cpuBusyPct(): Promise<number> {
  let prev = lastCpu;
  if (!prev || performance.now() - prev.at > 10 * 60_000) {
    prev = { ...cpuTimes(), at: performance.now() };
    await new Promise((r) => setTimeout(r, 200));
  }
  const now = { ...cpuTimes(), at: performance.now() };
  lastCpu = now;
  const total = now.total - prev.total;
  return total > 0 ? Math.min(100, Math.max(0, ((now.busy - prev.busy) / total) * 100)) : 0;
}

/** Used = total − available (MemAvailable: what can be had without swapping; caches excluded). */
export async function memory(): Promise<{ total: number; usedPct: number } | undefined> {
  let total = totalmem();
  let available = freemem();
  try {
    const text = await readFile('/proc/meminfo', 'utf8');
    const kb = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    total = kb('MemTotal') ?? total;
    available = kb('MemAvailable') ?? available;
  } catch {
    /* not Linux: os figures */
  }
  return total > 0 ? { total, usedPct: ((total - available) / total) * 100 } : undefined;
}

/** The hottest thermal zone in °C (a Raspberry Pi has one, the SoC); absent without a sensor. */
async function temperature(): Promise<number | undefined> {
  const base = '/sys/class/thermal';
  let best: number | undefined;
  const zones = await readdir(base).catch(() => [] as string[]);
  for (const z of zones.filter((d) => d.startsWith('thermal_zone')).slice(0, 16)) {
    const raw = await readFile(`${base}/${z}/temp`, 'utf8').catch(() => '');
    const c = Number(raw.trim()) / 1000;
    if (raw.trim() !== '' && Number.isFinite(c) && c > 0 && (best === undefined || c > best))
      best = c;
  }
  return best;
}

/** The interface of the default route, whether it is up, and its IPv4 address. */
async function defaultInterface(): Promise<ResourceSample['network']> {
  const route = await readFile('/proc/net/route', 'utf8').catch(() => '');
  // Iface Destination Gateway ...: the default route has destination 00000000.
  const line = route
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1] === '00000000');
  const ifaces = networkInterfaces();
  const iface = line?.[0] ?? Object.keys(ifaces).find((n) => n !== 'lo');
  if (!iface) return undefined;
  const state = (
    await readFile(`/sys/class/net/${iface}/operstate`, 'utf8').catch(() => 'unknown')
  ).trim();
  const ip4 = ifaces[iface]?.find((a) => a.family === 'IPv4')?.address;
  // 'unknown' is what virtual interfaces (veth, tun) report while they carry traffic.
  return { iface, up: state === 'up' || (state === 'unknown' && ip4 !== undefined), ip4 };
}
