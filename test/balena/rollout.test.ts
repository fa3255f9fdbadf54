// Staged rollout CLI against the fake cloud API: the real CLI in a child process, devices simulated
// by the test (a pinned device starts the release shortly after and reports gw.health).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, spawnCli, waitForOutput } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  startFakeCloudApi,
  type FakeBalenaCloudApi,
  type FakeDevice,
} from '../fakes/fake-balena-cloud-api.js';
import { assignWaves } from '../../agent/rollout/wave-selection.js';
import { parseWave } from '../../agent/rollout/plan.js';
import type { RolloutState } from '../../agent/rollout/rollout-state.js';

const WAVES = ['ring=canary', '50%', '100%'];

interface Fleet {
  cloud: FakeBalenaCloudApi;
  oldRel: number;
  newRel: number;
  waves: FakeDevice[][];
  env: NodeJS.ProcessEnv;
  state: string;
}

/** A fleet with one canary and enough devices that waves 2 and 3 each get at least two. */
async function fleet(
  t: { after: (fn: () => unknown) => void },
  health: (d: FakeDevice, rel: number) => string,
): Promise<Fleet> {
  const cloud = await startFakeCloudApi();
  const dir = tmpDir('rollout-');
  t.after(async () => {
    await cloud.stop();
    dir.cleanup();
  });
  const app = cloud.addApplication('acme/gateways');
  const oldRel = cloud.addRelease(app.id, '0.1.0').id;
  const newRel = cloud.addRelease(app.id, '0.2.0').id;
  app.should_be_running__release = oldRel;
  const uuids = Array.from({ length: 8 }, (_, i) =>
    createHash('sha256').update(`gw-${i}`).digest('hex').slice(0, 32),
  );
  const devs = uuids.map((u, i) =>
    cloud.addDevice(app.id, u, oldRel, {
      'gw.health': 'ok',
      ...(i === 0 ? { ring: 'canary' } : {}),
    }),
  );
  const split = assignWaves(
    devs.map((d) => ({ uuid: d.uuid, tags: cloud.tagsOf(d.uuid), d })),
    WAVES.map((w) => parseWave(w)),
  );
  assert.equal(split.unassigned.length, 0);
  const waves = split.waves.map((w) => w.map((x) => x.d));
  assert.ok(
    waves[0]!.length === 1 && waves[1]!.length >= 2 && waves[2]!.length >= 2,
    'test fleet shape',
  );
  const timers = new Set<NodeJS.Timeout>();
  t.after(() => timers.forEach(clearTimeout));
  cloud.onPin = (d, rel) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      d.is_running__release = rel ?? app.should_be_running__release;
      cloud.setTag(d.uuid, 'gw.health', health(d, d.is_running__release!));
    }, 80);
    timers.add(timer);
  };
  return {
    cloud,
    oldRel,
    newRel,
    waves,
    env: { BALENA_API_URL: cloud.url, BALENA_API_KEY: cloud.token, DATA_DIR: dir.path },
    state: join(dir.path, 'rollout.json'),
  };
}

const startArgs = (f: Fleet, soak: string) => [
  'rollout',
  'start',
  '--fleet',
  'acme/gateways',
  '--release',
  String(f.newRel),
  ...WAVES.flatMap((w) => ['--wave', w]),
  '--soak',
  soak,
  '--poll',
  '100ms',
  '--wave-timeout',
  '20s',
  '--success-share',
  '100%',
  '--failure-threshold',
  '50%',
  '--state',
  f.state,
];
const readState = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as RolloutState;

test(
  'three waves, the second turns unhealthy: the rollout stops and pins it back',
  { timeout: 60_000 },
  async (t) => {
    const unhealthy = new Set<string>();
    const f = await fleet(t, (d, rel) =>
      rel !== f.oldRel && unhealthy.has(d.uuid) ? 'failing' : 'ok',
    );
    for (const d of f.waves[1]!) unhealthy.add(d.uuid);
    const r = await runCli(startArgs(f, '300ms'), { env: f.env, timeoutMs: 45_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /wave 1\/3 "ring=canary": succeeded/);
    assert.match(r.stdout, /wave 2\/3 "50%": FAILED: \d+\/\d+ devices failing/);
    assert.match(r.stdout, /rollout stopped/);
    assert.doesNotMatch(r.stdout, /wave 3\/3 "100%": pinned/);
    const [canary, second, third] = f.waves as [FakeDevice[], FakeDevice[], FakeDevice[]];
    for (const d of canary)
      assert.equal(d.is_pinned_on__release, f.newRel, 'the healthy canary keeps the release');
    for (const d of second) {
      assert.equal(d.is_pinned_on__release, f.oldRel, `${d.uuid} pinned back`);
      assert.deepEqual(
        f.cloud
          .pinRequests(d.id)
          .map((q) => (q.body as { is_pinned_on__release: number }).is_pinned_on__release),
        [f.newRel, f.oldRel],
      );
    }
    for (const d of third)
      assert.equal(f.cloud.pinRequests(d.id).length, 0, 'wave 3 never touched');
    const s = readState(f.state);
    assert.equal(s.status, 'failed');
    assert.deepEqual(
      s.waves.map((w) => w.status),
      ['succeeded', 'rolled-back', 'pending'],
    );
    const st = await runCli(['rollout', 'status', '--state', f.state], { env: f.env });
    assert.equal(st.code, 0);
    assert.match(st.stdout, /: failed/);
    assert.match(st.stdout, /wave 2\/3 "50%": rolled-back/);
  },
);

test('a rollout killed mid-wave resumes from its state file', { timeout: 90_000 }, async (t) => {
  const f = await fleet(t, () => 'ok');
  const child = spawnCli(startArgs(f, '1500ms'), { env: f.env });
  t.after(() => child.kill('SIGKILL'));
  await waitForOutput(child, /wave 2\/3 "50%": pinned/, 40_000);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const mid = readState(f.state);
  assert.equal(mid.status, 'running');
  assert.equal(mid.currentWave, 1);
  assert.deepEqual(
    mid.waves.map((w) => w.status),
    ['succeeded', 'soaking', 'pending'],
  );
  const pinsBefore = f.cloud.pinRequests().length;
  assert.equal(pinsBefore, 1 + f.waves[1]!.length);
  const st = await runCli(['rollout', 'status', '--state', f.state], { env: f.env });
  assert.match(st.stdout, /interrupted/);
  // Resume: no plan needed, the state file has it.
  const r = await runCli(['rollout', 'start', '--state', f.state], {
    env: f.env,
    timeoutMs: 45_000,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /resuming rollout of release \d+ to acme\/gateways at wave 2\/3/);
  assert.match(r.stdout, /wave 2\/3 "50%": resuming soak/);
  assert.match(r.stdout, /rollout completed: 8 devices/);
  for (const d of f.waves.flat()) {
    assert.equal(d.is_pinned_on__release, f.newRel);
    assert.equal(f.cloud.pinRequests(d.id).length, 1, `${d.uuid} pinned exactly once`);
  }
  assert.equal(readState(f.state).status, 'completed');
});

test(
  'plan and --dry-run change nothing; bad input is one line and exit 2',
  { timeout: 60_000 },
  async (t) => {
    const f = await fleet(t, () => 'ok');
    const p = await runCli(
      [
        'rollout',
        'plan',
        '--fleet',
        'acme/gateways',
        '--release',
        '0.2.0',
        ...WAVES.flatMap((w) => ['--wave', w]),
        '--state',
        f.state,
      ],
      { env: f.env },
    );
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /wave 1\/3 "ring=canary": 1 devices/);
    assert.match(p.stdout, new RegExp(`wave 2/3 "50%": ${f.waves[1]!.length} devices`));
    const d = await runCli([...startArgs(f, '1s'), '--dry-run'], { env: f.env });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /dry-run: nothing pinned, no state written/);
    assert.equal(f.cloud.pinRequests().length, 0);
    assert.equal(existsSync(f.state), false);
    const bad = await runCli([...startArgs(f, '1s'), '--wave', '150%'], { env: f.env });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /percentage must be in \(0, 100\]/);
    const noToken = await runCli(startArgs(f, '1s'), {
      env: { ...f.env, BALENA_API_KEY: '', BALENA_TOKEN: '' },
    });
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /BALENA_API_KEY or BALENA_TOKEN/);
    const noFleet = await runCli(
      [...startArgs(f, '1s').map((a) => (a === 'acme/gateways' ? 'acme/nope' : a))],
      { env: f.env },
    );
    assert.equal(noFleet.code, 2);
    assert.match(noFleet.stderr, /fleet acme\/nope not found/);
    assert.equal(f.cloud.pinRequests().length, 0);
  },
);

test(
  'abort asks the running rollout to pin its wave back and stop',
  { timeout: 60_000 },
  async (t) => {
    const f = await fleet(t, () => 'ok');
    const child = spawnCli(startArgs(f, '10s'), { env: f.env });
    t.after(() => child.kill('SIGKILL'));
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    await waitForOutput(child, /wave 1\/3 "ring=canary": pinned/, 40_000);
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const a = await runCli(['rollout', 'abort', '--state', f.state], {
      env: f.env,
      timeoutMs: 30_000,
    });
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /rollout aborted/);
    assert.equal(await exited, 1);
    assert.match(stdout, /rollout aborted; wave 1\/3 "ring=canary" pinned back/);
    for (const d of f.waves[0]!) assert.equal(d.is_pinned_on__release, f.oldRel);
    for (const d of [...f.waves[1]!, ...f.waves[2]!])
      assert.equal(f.cloud.pinRequests(d.id).length, 0);
    const s = readState(f.state);
    assert.equal(s.status, 'aborted');
    assert.equal(existsSync(`${f.state}.abort`), false);
    const again = await runCli(['rollout', 'abort', '--state', f.state], { env: f.env });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no running rollout/);
  },
);
