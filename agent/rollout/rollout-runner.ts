// Drives a staged rollout over the balena cloud API, one wave at a time:
//   pending -> pinning (devices pinned to the release) -> soaking (wait until they run it and report
//   gw.health=ok for the soak time) -> succeeded, next wave | rolled-back (failure threshold or wave
//   timeout: the wave is pinned back, the rollout stops) | aborted (operator).
// The state is saved before and after every step, so a killed runner resumes where it was.
import { existsSync, unlinkSync } from 'node:fs';
import type { CloudApiClient, FleetDevice } from '../balena/cloud-api-client.js';
import { isTransientBalenaError } from '../balena/errors.js';
import type { RolloutPlan } from './plan.js';
import { saveState, type RolloutState, type WaveState } from './rollout-state.js';
import { assignWaves } from './wave-selection.js';
import { evaluateWave, type WaveCounts } from './wave-evaluation.js';
import { backoffDelay } from '../../platform/backoff.js';

export interface RunnerDeps {
  api: CloudApiClient;
  statePath: string;
  /** One progress line (stdout of the CLI). */
  out: (line: string) => void;
  /** A progress line is repeated at least this often while nothing changes. */
  progressEveryMs?: number;
}

export const abortMarkerPath = (statePath: string) => `${statePath}.abort`;

/** Resolve fleet, release and devices, and split the devices into waves. Changes nothing remotely. */
export async function createRollout(
  api: CloudApiClient,
  plan: RolloutPlan,
): Promise<{ state: RolloutState; unassigned: FleetDevice[]; tracksLatest: boolean }> {
  const fleet = await api.fleet(plan.fleet);
  const release = await api.release(fleet.id, plan.release);
  if (release.status && release.status !== 'success')
    throw new RolloutInputError(
      `release ${plan.release} has status ${release.status}, not success`,
    );
  const devices = await api.fleetDevices(fleet.id);
  const { waves, unassigned } = assignWaves(devices, plan.waves);
  const now = Date.now();
  const state: RolloutState = {
    format: 1,
    fleet: { id: fleet.id, slug: fleet.slug },
    release: { id: release.id, commit: release.commit, version: release.raw_version ?? null },
    plan: {
      soakMs: plan.soakMs,
      successShare: plan.successShare,
      failureThreshold: plan.failureThreshold,
      waveTimeoutMs: plan.waveTimeoutMs,
      pollMs: plan.pollMs,
    },
    status: 'running',
    reason: null,
    currentWave: 0,
    pid: null,
    createdAt: now,
    updatedAt: now,
    waves: plan.waves.map((spec, i) => ({
      spec,
      status: 'pending',
      startedAt: null,
      finishedAt: null,
      devices: waves[i]!.map((d) => ({
        id: d.id,
        uuid: d.uuid,
        name: d.name,
        previousPin: d.pinnedRelease,
        previousRunning: d.runningRelease,
        healthySince: null,
        failed: null,
      })),
    })),
  };
  return { state, unassigned, tracksLatest: fleet.tracksLatest };
}

export class RolloutInputError extends Error {
  override name = 'RolloutInputError';
}
export const isRolloutInputError = (e: unknown): e is RolloutInputError =>
  e instanceof RolloutInputError;

export function describePlan(state: RolloutState, unassigned: FleetDevice[]): string[] {
  const lines = [
    `fleet ${state.fleet.slug} (${state.fleet.id}) -> release ${state.release.id} ${state.release.commit.slice(0, 7)}${state.release.version ? ` (${state.release.version})` : ''}`,
    `gates: soak ${state.plan.soakMs / 1000}s, success share ${pct(state.plan.successShare)}, failure threshold ${pct(state.plan.failureThreshold)}, wave timeout ${state.plan.waveTimeoutMs / 1000}s`,
  ];
  state.waves.forEach((w, i) => {
    lines.push(
      `wave ${i + 1}/${state.waves.length} "${w.spec.label}": ${w.devices.length} devices`,
    );
    for (const d of w.devices)
      lines.push(
        `  ${d.uuid.slice(0, 7)} ${d.name} running ${d.previousRunning ?? '-'} pinned ${d.previousPin ?? '-'}`,
      );
  });
  if (unassigned.length)
    lines.push(
      `not in any wave (left as they are): ${unassigned.map((d) => d.uuid.slice(0, 7)).join(' ')}`,
    );
  return lines;
}

const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;

export async function runRollout(state: RolloutState, deps: RunnerDeps): Promise<RolloutState> {
  const { api, statePath, out } = deps;
  const progressEveryMs = deps.progressEveryMs ?? 30_000;
  const n = state.waves.length;
  state.pid = process.pid;
  saveState(statePath, state);
  for (let i = state.currentWave; i < n && state.status === 'running'; i++) {
    state.currentWave = i;
    const wave = state.waves[i]!;
    const tag = `wave ${i + 1}/${n} "${wave.spec.label}"`;
    if (wave.status === 'succeeded') continue;
    if (wave.status === 'pending' || wave.status === 'pinning') {
      wave.status = 'pinning';
      wave.startedAt ??= Date.now();
      saveState(statePath, state);
      await retrying(() => pinAll(api, wave, state.release.id), out, tag);
      wave.status = 'soaking';
      saveState(statePath, state);
      out(`${tag}: pinned ${wave.devices.length} devices to release ${state.release.id}`);
    } else out(`${tag}: resuming soak`);
    let lastLine = '';
    let lastPrinted = 0;
    for (;;) {
      if (existsSync(abortMarkerPath(statePath))) {
        await rollBack(api, wave, out, tag);
        wave.status = 'aborted';
        finish(state, 'aborted', `aborted by operator during ${tag}`);
        unlinkSync(abortMarkerPath(statePath));
        saveState(statePath, state);
        out(`rollout aborted; ${tag} pinned back`);
        return state;
      }
      const live = await retrying(() => api.fleetDevices(state.fleet.id), out, tag);
      const now = Date.now();
      const verdict = evaluateWave(
        wave,
        new Map(live.map((d) => [d.id, d])),
        state.release.id,
        state.plan,
        now,
      );
      saveState(statePath, state);
      const line = `${tag}: ${progress(verdict.counts, state.plan.soakMs)}`;
      if (line !== lastLine || now - lastPrinted >= progressEveryMs) {
        out(
          `${line}, ${Math.round((now - (wave.startedAt ?? now)) / 1000)}s/${state.plan.waveTimeoutMs / 1000}s`,
        );
        lastLine = line;
        lastPrinted = now;
      }
      if (verdict.kind === 'succeeded') {
        wave.status = 'succeeded';
        wave.finishedAt = now;
        saveState(statePath, state);
        out(`${tag}: succeeded (${verdict.counts.soaked}/${verdict.counts.total} healthy)`);
        break;
      }
      if (verdict.kind === 'failed') {
        out(`${tag}: FAILED: ${verdict.reason}; pinning the wave back`);
        await rollBack(api, wave, out, tag);
        wave.status = 'rolled-back';
        wave.finishedAt = Date.now();
        finish(state, 'failed', `${tag}: ${verdict.reason}`);
        saveState(statePath, state);
        out(`rollout stopped: ${tag} pinned back to its previous release; later waves untouched`);
        return state;
      }
      await new Promise((r) => setTimeout(r, state.plan.pollMs));
    }
  }
  if (state.status === 'running') {
    finish(state, 'completed', null);
    saveState(statePath, state);
    out(
      `rollout completed: ${state.waves.reduce((s, w) => s + w.devices.length, 0)} devices on release ${state.release.id}`,
    );
  }
  return state;
}

function finish(state: RolloutState, status: RolloutState['status'], reason: string | null) {
  state.status = status;
  state.reason = reason;
  state.pid = null;
}

function progress(c: WaveCounts, soakMs: number): string {
  return `${c.running}/${c.total} running the release, ${c.ok} reporting ok, ${c.soaked}/${c.total} healthy for ${soakMs / 1000}s, ${c.failed} failed`;
}

async function pinAll(api: CloudApiClient, wave: WaveState, releaseId: number): Promise<void> {
  for (const d of wave.devices) await api.pinDevice(d.id, releaseId);
}

/** Back to the device's previous pin, else to the release it was running before the rollout. */
export async function rollBack(
  api: CloudApiClient,
  wave: WaveState,
  out: (l: string) => void,
  tag: string,
): Promise<void> {
  for (const d of wave.devices) {
    const back = d.previousPin ?? d.previousRunning;
    await retrying(() => api.pinDevice(d.id, back), out, `${tag} ${d.uuid.slice(0, 7)}`);
  }
}

/** Transient API failures (network, 5xx, 429) are waited out; anything else ends the command. */
async function retrying<T>(
  fn: () => Promise<T>,
  out: (l: string) => void,
  what: string,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransientBalenaError(e) || attempt >= RETRY_ATTEMPTS) throw e;
      const wait = Math.round(backoffDelay(attempt - 1, RETRY_BASE_MS, RETRY_CAP_MS));
      out(
        `${what}: cloud API unavailable (${(e as Error).message}); retrying in ${(wait / 1000).toFixed(1)}s`,
      );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
/**
 * Attempts of one cloud API step before the command gives up (the state keeps the place). The only
 * retry loop: the runner's client is made with got's retries off (agent/cli/rollout-command.ts).
 */
const RETRY_ATTEMPTS = 10;
const RETRY_BASE_MS = 1000;
const RETRY_CAP_MS = 60_000;
