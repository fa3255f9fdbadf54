// Power cuts in the style of Mender's tests: kill -9 of the real process in each OTA state, then a
// restart: the gateway runs a consistent slot and the history says what happened.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { spawnCli, waitForOutput } from '../helpers/cli.js';
import {
  agentFor,
  HOLD_PHASE_PRELOAD,
  kit,
  otaConfig,
  packFull,
  startLauncher,
  state,
  writeAgent,
  writeConfig,
  type Kit,
  type Mode,
} from './ota-fixtures.js';
import { waitForValue } from '../helpers/wait.js';

const tmp = tmpDir('ota-cut-');
after(() => tmp.cleanup());
const factory = writeAgent(join(tmp.path, 'factory'), '1.0.0', 'healthy');
let n = 0;
const OTA = {
  minHealthySeconds: 1,
  probationGraceSeconds: 4,
  crashLoop: { exits: 3, windowSeconds: 10 },
};

async function setup(mode: Mode = 'healthy', ota: Record<string, unknown> = OTA) {
  const k: Kit = await kit();
  const dataDir = join(tmp.path, `dev-${++n}`);
  mkdirSync(dataDir, { recursive: true });
  const configPath = writeConfig(dataDir, k, ota);
  const dir = writeAgent(join(tmp.path, `build-${n}`), '2.0.0', mode);
  const bundle = join(tmp.path, `b-${n}.bundle`);
  await packFull(dir, k.opts({}), bundle);
  return { k, dataDir, configPath, bundle };
}

/** `wms-gateway ota install` held in `phase`, then killed with SIGKILL there. */
async function cutInstallIn(phase: string, dataDir: string, src: string): Promise<void> {
  const cli = spawnCli(['ota', 'install', src, '--data-dir', dataDir], {
    env: { OTA_FACTORY_DIR: factory, WMS_GATEWAY_OTA_HOLD: phase },
    preload: [HOLD_PHASE_PRELOAD],
  });
  try {
    await waitForOutput(cli, new RegExp(`holding in ${phase}`), 45_000); // start-up on a loaded machine
    assert.equal(state(dataDir).phase, phase);
  } finally {
    cli.kill('SIGKILL');
    await new Promise((r) =>
      cli.exitCode !== null || cli.signalCode !== null ? r(null) : cli.once('exit', r),
    );
  }
}

for (const phase of ['Downloading', 'Verifying', 'Installing'] as const) {
  test(
    `kill -9 in ${phase}: the factory slot keeps running, the history says interrupted, a new offer completes`,
    { timeout: 120_000 },
    async () => {
      const d = await setup();
      const body = readFileSync(d.bundle);
      const server = createServer((_req, res) => res.end(body));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const src =
        phase === 'Downloading'
          ? `http://127.0.0.1:${(server.address() as AddressInfo).port}/b.bundle`
          : d.bundle;
      try {
        await cutInstallIn(phase, d.dataDir, src);
        const l = startLauncher(d.dataDir, factory);
        try {
          await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/);
          const s = state(d.dataDir);
          assert.equal(s.active, 'factory');
          assert.equal(s.phase, 'Failed');
          assert.equal(s.error?.reason, 'interrupted');
          assert.match(s.history.at(-1)!.message, new RegExp(`interrupted in ${phase}`));
          // The same update offered again goes through.
          const agent = agentFor(d.dataDir, factory, otaConfig(d.k, OTA));
          const again = await agent.install(
            phase === 'Downloading' ? { url: src } : { file: d.bundle },
          );
          assert.equal(again.phase, 'Switching', JSON.stringify(again.error));
          await l.waitFor(/test-agent 2\.0\.0 healthy started slot=a/);
          await waitForValue('Committed', () => state(d.dataDir).phase === 'Committed');
        } finally {
          await l.stop();
        }
      } finally {
        server.close();
      }
    },
  );
}

test(
  'kill -9 in Switching: the restarted launcher completes the switch and commits',
  { timeout: 120_000 },
  async () => {
    const d = await setup();
    await cutInstallIn('Switching', d.dataDir, d.bundle);
    const l = startLauncher(d.dataDir, factory);
    try {
      await l.waitFor(/test-agent 2\.0\.0 healthy started slot=a/);
      const s = await waitForValue(
        'Committed',
        () => state(d.dataDir).phase === 'Committed' && state(d.dataDir),
      );
      assert.equal(s.active, 'a');
      assert.deepEqual(
        s.history.slice(-3).map((h) => h.to),
        ['Switching', 'Probation', 'Committed'],
      );
    } finally {
      await l.stop();
    }
  },
);

test(
  'power cut in Probation: the new slot gets a fresh probation after the restart',
  { timeout: 120_000 },
  async () => {
    const d = await setup('healthy', { ...OTA, minHealthySeconds: 3600 });
    let l = startLauncher(d.dataDir, factory);
    try {
      await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/);
      await agentFor(d.dataDir, factory, otaConfig(d.k, OTA)).install({ file: d.bundle });
      await l.waitFor(/test-agent 2\.0\.0 healthy started slot=a/);
      assert.equal(state(d.dataDir).phase, 'Probation');
      await l.powerCut();
      writeConfig(d.dataDir, d.k, OTA); // a short probation this time
      l = startLauncher(d.dataDir, factory);
      await l.waitFor(/test-agent 2\.0\.0 healthy started slot=a/);
      const s = await waitForValue(
        'Committed',
        () => state(d.dataDir).phase === 'Committed' && state(d.dataDir),
      );
      assert.equal(s.active, 'a');
      assert.equal(s.update?.probation?.boots, 2);
    } finally {
      await l.stop();
    }
  },
);

test(
  'power cut in RollingBack: the restarted launcher finishes the rollback to the factory slot',
  { timeout: 120_000 },
  async () => {
    const d = await setup('crash');
    let l = startLauncher(d.dataDir, factory, { WMS_GATEWAY_OTA_HOLD: 'RollingBack' });
    try {
      await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/);
      await agentFor(d.dataDir, factory, otaConfig(d.k, OTA)).install({ file: d.bundle });
      await l.waitFor(/holding in RollingBack/, 20_000);
      assert.equal(state(d.dataDir).phase, 'RollingBack');
      assert.equal(state(d.dataDir).active, 'a');
      await l.powerCut();
      l = startLauncher(d.dataDir, factory);
      await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/);
      const s = state(d.dataDir);
      assert.equal(s.phase, 'Failed');
      assert.equal(s.active, 'factory');
      assert.equal(s.error?.reason, 'crash-loop');
      assert.deepEqual(
        s.history.slice(-2).map((h) => h.to),
        ['RollingBack', 'Failed'],
      );
    } finally {
      await l.stop();
    }
  },
);

test(
  'power cut after Committed: the committed slot runs after the restart',
  { timeout: 120_000 },
  async () => {
    const d = await setup();
    let l = startLauncher(d.dataDir, factory);
    try {
      await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/);
      await agentFor(d.dataDir, factory, otaConfig(d.k, OTA)).install({ file: d.bundle });
      await waitForValue('Committed', () => state(d.dataDir).phase === 'Committed');
      await l.powerCut();
      l = startLauncher(d.dataDir, factory);
      await l.waitFor(/test-agent 2\.0\.0 healthy started slot=a/);
      assert.equal(state(d.dataDir).active, 'a');
    } finally {
      await l.stop();
    }
  },
);

test(
  'a torn or corrupt state file still boots the factory slot',
  { timeout: 120_000 },
  async () => {
    const d = await setup();
    mkdirSync(join(d.dataDir, 'ota'), { recursive: true });
    writeFileSync(join(d.dataDir, 'ota', 'state.json'), '{"format":1,"phase":"Prob');
    const l = startLauncher(d.dataDir, factory);
    try {
      await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/);
      assert.match(l.output(), /OTA state unreadable/);
    } finally {
      await l.stop();
    }
  },
);
