// One look at a wave's devices: who runs the release, who has reported gw.health=ok for the soak
// time, who fails, and what that means for the wave. Pure: the runner feeds it the cloud's view.
import type { FleetDevice } from '../balena/cloud-api-client.js';
import type { WaveState } from './rollout-state.js';

export const HEALTH_TAG = 'gw.health';

export interface WaveCounts {
  total: number;
  running: number;
  ok: number;
  soaked: number;
  failed: number;
}

export type WaveVerdict =
  | { kind: 'waiting'; counts: WaveCounts }
  | { kind: 'succeeded'; counts: WaveCounts }
  | { kind: 'failed'; counts: WaveCounts; reason: string };

export interface Gates {
  soakMs: number;
  successShare: number;
  failureThreshold: number;
  waveTimeoutMs: number;
}

/** Update each device's soak clock and failure mark from the live view; return the verdict. */
export function evaluateWave(
  wave: WaveState,
  live: Map<number, FleetDevice>,
  releaseId: number,
  gates: Gates,
  now: number,
): WaveVerdict {
  const c: WaveCounts = { total: wave.devices.length, running: 0, ok: 0, soaked: 0, failed: 0 };
  for (const d of wave.devices) {
    const l = live.get(d.id);
    if (!l) {
      d.failed ??= 'device removed from the fleet';
      d.healthySince = null;
    } else {
      const onRelease = l.runningRelease === releaseId;
      const health = l.tags[HEALTH_TAG];
      if (onRelease) c.running++;
      if (onRelease && l.online && health === 'ok') {
        d.healthySince ??= now;
        c.ok++;
      } else d.healthySince = null;
      // Only the new release's own report counts: gw.health=failing from the old one is not its fault.
      if (onRelease && health === 'failing') d.failed ??= 'gw.health=failing on the new release';
    }
    if (d.failed) c.failed++;
    else if (d.healthySince !== null && now - d.healthySince >= gates.soakMs) c.soaked++;
  }
  if (c.total === 0) return { kind: 'succeeded', counts: c };
  if (c.failed / c.total >= gates.failureThreshold)
    return { kind: 'failed', counts: c, reason: `${c.failed}/${c.total} devices failing` };
  if (c.soaked / c.total >= gates.successShare) return { kind: 'succeeded', counts: c };
  if (wave.startedAt !== null && now - wave.startedAt > gates.waveTimeoutMs)
    return {
      kind: 'failed',
      counts: c,
      reason: `wave timeout: ${c.soaked}/${c.total} healthy after ${Math.round(gates.waveTimeoutMs / 1000)}s`,
    };
  return { kind: 'waiting', counts: c };
}
