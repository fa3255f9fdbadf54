// CPU, memory, disk of $DATA_DIR, temperature and network, against the health thresholds of the config.
import type { HealthConfig } from '../health/config-schema.js';
import { sampleResources } from '../health/resources.js';
import type { DiagCheck, CheckStatus } from './check.js';

function level(v: number, t: { warn: number; critical: number }): CheckStatus {
  // Strictly above, so a threshold of 100 switches a check off.
  return v > t.critical ? 'critical' : v > t.warn ? 'warning' : 'ok';
}

const ADVICE = {
  cpu: 'Find what uses the CPU (top); lower poll rates (plcs[].groups[].intervalMs) or the log level.',
  memory:
    'Check for a leak (memory growing over days in the heartbeat); restart the agent; reduce outbox inflight or PLC count.',
  disk: 'Free space in $DATA_DIR: run `wms-gateway backup list` and old backups are pruned by retention; lower maintenance.logs.deleteAfterDays or wms.outbox.maxBytes.',
  temperature:
    'Improve cooling or ventilation of the device; check the enclosure and ambient temperature.',
};

export async function resourceChecks(dataDir: string, cfg: HealthConfig): Promise<DiagCheck[]> {
  const s = await sampleResources(dataDir);
  const out: DiagCheck[] = [];
  const add = (
    name: keyof typeof ADVICE,
    v: number,
    unit: string,
    extra: Record<string, unknown> = {},
  ) => {
    const status = level(v, cfg[name]);
    out.push({
      name: `resources.${name}`,
      status,
      message: `${v.toFixed(1)}${unit}${status === 'ok' ? '' : ` (${status} above ${status === 'critical' ? cfg[name].critical : cfg[name].warn}${unit})`}`,
      recommendation: status === 'ok' ? undefined : ADVICE[name],
      detail: { value: Math.round(v * 10) / 10, ...extra },
    });
  };
  add('cpu', s.cpuPct, '%');
  add('memory', s.memPct, '%', { totalBytes: s.memTotalBytes });
  add('disk', s.diskPct, '%', { freeBytes: s.diskFreeBytes, dataDir });
  if (s.temperatureC !== undefined) add('temperature', s.temperatureC, '°C');
  else
    out.push({
      name: 'resources.temperature',
      status: 'skipped',
      message: 'no temperature sensor reported',
    });
  if (s.network)
    out.push({
      name: 'resources.network',
      status: s.network.up ? 'ok' : 'warning',
      message: `${s.network.iface} ${s.network.up ? 'up' : 'down'}${s.network.ip4 ? ` (${s.network.ip4})` : ''}`,
      recommendation: s.network.up
        ? undefined
        : 'Check the cable or Wi-Fi of the default interface and the DHCP lease.',
    });
  return out;
}
