// `wms-gateway rollout plan|start|status|abort`: staged rollout of a balena release over a fleet,
// wave by wave, gated on the gw.health device tags the agents report (docs/fleet.md).
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { UsageError } from '../../platform/usage-error.js';
import { resolveDataDir } from '../config/load.js';
import { CloudApiClient } from '../balena/cloud-api-client.js';
import { isCloudApiAuthError, isCloudApiNotFoundError } from '../balena/errors.js';
import { processAlive } from '../balena/update-lock.js';
import { buildPlan, isPlanError, readPlanFile, type PlanInput } from '../rollout/plan.js';
import {
  defaultStatePath,
  isStateFileError,
  loadState,
  saveState,
  type RolloutState,
} from '../rollout/rollout-state.js';
import {
  abortMarkerPath,
  createRollout,
  describePlan,
  isRolloutInputError,
  rollBack,
  runRollout,
} from '../rollout/rollout-runner.js';

interface PlanFlags {
  plan?: string;
  fleet?: string;
  release?: string;
  wave?: string[];
  soak?: string;
  successShare?: string;
  failureThreshold?: string;
  waveTimeout?: string;
  poll?: string;
  state?: string;
  dataDir?: string;
  dryRun?: boolean;
}

/** How long `abort` waits for a running `start` to pin its wave back. */
const ABORT_WAIT_MS = 60_000;

const out = (line: string): void => {
  process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
};

export function registerRolloutCommand(program: Command): void {
  const r = program
    .command('rollout')
    .description('staged rollout of a balena release over device groups, gated on gw.health tags');
  const planOptions = (c: Command) =>
    c
      .option('--plan <file>', 'plan file (YAML/JSON: fleet, release, waves, soak, ...)')
      .option('--fleet <slug|id>', 'fleet slug (org/name) or id')
      .option('--release <id|commit|version>', 'release to roll out')
      .option(
        '--wave <spec>',
        'a wave: tag=value, N% (cumulative, by uuid hash), all; repeat in order',
        collect,
      )
      .option(
        '--soak <duration>',
        'time devices must run the release and report gw.health=ok (default 10m)',
      )
      .option('--success-share <share>', 'share of a wave that must pass the soak (default 90%)')
      .option(
        '--failure-threshold <share>',
        'share of a wave failing that stops the rollout (default 10%)',
      )
      .option('--wave-timeout <duration>', 'longest wait for a wave (default 60m)')
      .option('--poll <duration>', 'how often the cloud API is asked (default 15s)')
      .option('--state <file>', 'state file (default $DATA_DIR/rollout/state.json)')
      .option('--data-dir <dir>', 'data directory for the default state file');
  planOptions(r.command('plan').description('show the waves and devices; change nothing')).action(
    (opts: PlanFlags) => guard(() => planCommand(opts, 'plan')),
  );
  planOptions(r.command('start').description('start, or resume, a rollout'))
    .option('--dry-run', 'show what would be done; change nothing')
    .action((opts: PlanFlags) => guard(() => planCommand(opts, opts.dryRun ? 'dry-run' : 'start')));
  r.command('status')
    .description('show the state of the last rollout')
    .option('--state <file>', 'state file')
    .option('--data-dir <dir>', 'data directory for the default state file')
    .option('--json', 'the state file as JSON')
    .action((opts: { state?: string; dataDir?: string; json?: boolean }) =>
      guard(async () => statusCommand(opts)),
    );
  r.command('abort')
    .description('stop the running rollout and pin its current wave back')
    .option('--state <file>', 'state file')
    .option('--data-dir <dir>', 'data directory for the default state file')
    .action((opts: { state?: string; dataDir?: string }) => guard(() => abortCommand(opts)));
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Input problems become one-line usage errors (exit 2); the state file is left as it was. */
async function guard(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (
      isPlanError(e) ||
      isStateFileError(e) ||
      isRolloutInputError(e) ||
      isCloudApiNotFoundError(e)
    )
      throw new UsageError(e.message);
    if (isCloudApiAuthError(e)) throw new UsageError(`balena API refused the token (${e.message})`);
    throw e;
  }
}

function statePathOf(opts: { state?: string; dataDir?: string }): string {
  return (
    opts.state ?? defaultStatePath(resolveDataDir({ dataDir: opts.dataDir, env: process.env }))
  );
}

function apiClient(): CloudApiClient {
  const token = process.env.BALENA_API_KEY || process.env.BALENA_TOKEN;
  if (!token) throw new UsageError('set BALENA_API_KEY or BALENA_TOKEN to a balena API key');
  return new CloudApiClient({ apiUrl: process.env.BALENA_API_URL, token });
}

async function planCommand(opts: PlanFlags, mode: 'plan' | 'dry-run' | 'start'): Promise<void> {
  const statePath = statePathOf(opts);
  const flags: PlanInput = {
    fleet: opts.fleet,
    release: opts.release,
    waves: opts.wave,
    soak: opts.soak,
    successShare: opts.successShare,
    failureThreshold: opts.failureThreshold,
    waveTimeout: opts.waveTimeout,
    poll: opts.poll,
  };
  const existing = mode === 'plan' ? null : loadState(statePath);
  const api = apiClient();
  if (existing?.status === 'running') {
    if (existing.pid !== null && existing.pid !== process.pid && processAlive(existing.pid))
      throw new UsageError(
        `a rollout is already running (pid ${existing.pid}, state ${statePath})`,
      );
    const mismatch = differs(existing, flags);
    if (mismatch)
      throw new UsageError(
        `${statePath} holds an unfinished rollout of another ${mismatch}; abort it first`,
      );
    out(
      `resuming rollout of release ${existing.release.id} to ${existing.fleet.slug} at wave ${existing.currentWave + 1}/${existing.waves.length} (${statePath})`,
    );
    if (mode === 'dry-run') return out('dry run: nothing changed');
    return finishWith(
      await runRollout(existing, { api, statePath, out: interruptible(statePath) }),
    );
  }
  const plan = buildPlan(opts.plan ? readPlanFile(opts.plan) : {}, flags);
  const { state, unassigned, tracksLatest } = await createRollout(api, plan);
  for (const l of describePlan(state, unassigned)) out(l);
  if (tracksLatest)
    out(
      'warning: the fleet tracks the latest release, so unpinned devices update anyway; turn it off (docs/fleet.md)',
    );
  if (mode !== 'start') return out(`${mode}: nothing pinned, no state written`);
  if (existing) out(`replacing the finished rollout (${existing.status}) in ${statePath}`);
  saveState(statePath, state);
  finishWith(await runRollout(state, { api, statePath, out: interruptible(statePath) }));
}

/** Ctrl-C or SIGTERM: every step is already saved, so say how to resume and stop. */
function interruptible(statePath: string): typeof out {
  const stop = (sig: NodeJS.Signals) => {
    out(`interrupted (${sig}); \`wms-gateway rollout start --state ${statePath}\` resumes`);
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return out;
}

/** Which part of the requested plan a running rollout does not match, if any. */
function differs(s: RolloutState, flags: PlanInput): string | null {
  if (
    flags.fleet !== undefined &&
    ![s.fleet.slug, String(s.fleet.id)].includes(String(flags.fleet).toLowerCase())
  )
    return 'fleet';
  const rel = flags.release === undefined ? undefined : String(flags.release);
  if (
    rel !== undefined &&
    rel !== String(s.release.id) &&
    rel !== s.release.version &&
    !s.release.commit.startsWith(rel)
  )
    return 'release';
  return null;
}

function finishWith(state: RolloutState): void {
  if (state.status !== 'completed') process.exitCode = 1;
}

function statusCommand(opts: { state?: string; dataDir?: string; json?: boolean }): void {
  const statePath = statePathOf(opts);
  const s = loadState(statePath);
  if (!s) {
    process.stdout.write(`no rollout recorded at ${statePath}\n`);
    return;
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify(s, null, 2) + '\n');
    return;
  }
  const live = s.status === 'running' && s.pid !== null && processAlive(s.pid);
  const lines = [
    `rollout of release ${s.release.id} (${s.release.commit.slice(0, 7)}) to ${s.fleet.slug}: ${s.status}${s.status === 'running' ? (live ? ` (pid ${s.pid})` : ' (interrupted; `rollout start` resumes it)') : ''}`,
  ];
  if (s.reason) lines.push(`reason: ${s.reason}`);
  s.waves.forEach((w, i) => {
    const healthy = w.devices.filter((d) => d.healthySince !== null && !d.failed).length;
    const failed = w.devices.filter((d) => d.failed).length;
    lines.push(
      `wave ${i + 1}/${s.waves.length} "${w.spec.label}": ${w.status}, ${w.devices.length} devices, ${healthy} reporting ok, ${failed} failed`,
    );
  });
  process.stdout.write(lines.join('\n') + '\n');
}

async function abortCommand(opts: { state?: string; dataDir?: string }): Promise<void> {
  const statePath = statePathOf(opts);
  const s = loadState(statePath);
  if (!s || s.status !== 'running') throw new UsageError(`no running rollout at ${statePath}`);
  if (s.pid !== null && s.pid !== process.pid && processAlive(s.pid)) {
    // The running `start` owns the state file: ask it, and wait for it to pin back.
    writeFileSync(abortMarkerPath(statePath), `${process.pid}\n`);
    const deadline = Date.now() + ABORT_WAIT_MS;
    while (Date.now() < deadline) {
      const now = loadState(statePath);
      if (now && now.status !== 'running') return out(`rollout ${now.status}: ${now.reason ?? ''}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new UsageError(
      `the running rollout (pid ${s.pid}) did not stop within ${ABORT_WAIT_MS / 1000}s`,
      1,
    );
  }
  const api = apiClient();
  const wave = s.waves[s.currentWave]!;
  const tag = `wave ${s.currentWave + 1}/${s.waves.length} "${wave.spec.label}"`;
  if (wave.status === 'pinning' || wave.status === 'soaking') {
    await rollBack(api, wave, out, tag);
    wave.status = 'aborted';
  }
  s.status = 'aborted';
  s.reason = `aborted by operator during ${tag}`;
  s.pid = null;
  saveState(statePath, s);
  out(`rollout aborted; ${tag} pinned back`);
}
