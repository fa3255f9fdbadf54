// The real launcher process with tiny real agents: a healthy update commits, one that crashes on start
// is rolled back within 5 s of the crash loop, one that leaves the PLC link down is rolled back after probation.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import {
  agentFor,
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

const tmp = tmpDir('ota-launch-');
after(() => tmp.cleanup());
const factory = writeAgent(join(tmp.path, 'factory'), '1.0.0', 'healthy');
let n = 0;
const OTA = {
  minHealthySeconds: 1,
  probationGraceSeconds: 4,
  crashLoop: { exits: 3, windowSeconds: 10 },
};

async function setup(mode: Mode, version: string) {
  const k: Kit = await kit();
  const dataDir = join(tmp.path, `dev-${++n}`);
  mkdirSync(dataDir, { recursive: true });
  const configPath = writeConfig(dataDir, k, OTA);
  const dir = writeAgent(join(tmp.path, `build-${n}`), version, mode);
  const bundle = join(tmp.path, `b-${n}.bundle`);
  await packFull(dir, k.opts({ version }), bundle);
  const agent = agentFor(dataDir, factory, otaConfig(k, OTA), { configPath });
  return { k, dataDir, configPath, bundle, agent };
}

test(
  'a healthy update is switched to, passes probation and is committed; SIGTERM stops the agent',
  { timeout: 60_000 },
  async () => {
    const d = await setup('healthy', '2.0.0');
    const l = startLauncher(d.dataDir, factory);
    try {
      await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/);
      const st = await d.agent.install({ file: d.bundle });
      assert.equal(st.phase, 'Switching', JSON.stringify(st.error));
      await l.waitFor(/test-agent 2\.0\.0 healthy started slot=a/);
      const s = await waitForValue(
        'Committed',
        () => state(d.dataDir).phase === 'Committed' && state(d.dataDir),
      );
      assert.equal(s.active, 'a');
      assert.deepEqual(
        s.history.map((h) => h.to),
        ['Verifying', 'Installing', 'Switching', 'Probation', 'Committed'],
      );
      // `ota status` tells the same story.
      const status = await runCli(['ota', 'status', '--data-dir', d.dataDir, '--json'], {
        env: { OTA_FACTORY_DIR: factory },
      });
      assert.equal(status.code, 0, status.stderr);
      assert.equal(JSON.parse(status.stdout).active, 'a');
      assert.equal(JSON.parse(status.stdout).slots.a.version, '2.0.0');
    } finally {
      await l.stop();
    }
    assert.equal(l.proc.exitCode, 0);
  },
);

test(
  'a version that crashes on start is rolled back within 5 s of the crash loop',
  { timeout: 60_000 },
  async (t) => {
    const d = await setup('crash', '3.0.0');
    const l = startLauncher(d.dataDir, factory);
    try {
      await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/);
      await d.agent.install({ file: d.bundle });
      await l.waitFor(/(test-agent 3\.0\.0 crash started[^]*){3}/);
      const loopAt = Date.now();
      await l.waitFor(
        /test-agent 3\.0\.0 crash started[^]*test-agent 1\.0\.0 healthy started slot=factory/,
      );
      const back = Date.now() - loopAt;
      t.diagnostic(`back on the factory slot ${back} ms after the third crash`);
      assert.ok(back < 5000, `back on the factory slot ${back} ms after the crash loop`);
      const s = await waitForValue(
        'Failed',
        () => state(d.dataDir).phase === 'Failed' && state(d.dataDir),
      );
      assert.equal(s.active, 'factory');
      assert.equal(s.error?.reason, 'crash-loop');
      assert.deepEqual(
        s.history.slice(-3).map((h) => h.to),
        ['Probation', 'RollingBack', 'Failed'],
      );
    } finally {
      await l.stop();
    }
  },
);

test(
  'a version that leaves the PLC link down is rolled back after probation and the config restored',
  { timeout: 60_000 },
  async () => {
    const d = await setup('plc-down', '4.0.0');
    const original = readFileSync(d.configPath, 'utf8');
    const l = startLauncher(d.dataDir, factory);
    try {
      await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/);
      await d.agent.install({ file: d.bundle });
      await l.waitFor(/test-agent 4\.0\.0 plc-down started slot=a/);
      writeFileSync(d.configPath, original.replace('"gw-test-1"', '"changed-by-the-new-version"'));
      const s = await waitForValue(
        'Failed',
        () => state(d.dataDir).phase === 'Failed' && state(d.dataDir),
        20_000,
      );
      assert.equal(s.active, 'factory');
      assert.equal(s.error?.reason, 'unhealthy');
      assert.match(s.error!.message, /plcsOk":0/);
      assert.equal(readFileSync(d.configPath, 'utf8'), original, 'config restored from the backup');
      await l.waitFor(
        /test-agent 4\.0\.0 plc-down started slot=a[^]*test-agent 1\.0\.0 healthy started slot=factory/,
      );
    } finally {
      await l.stop();
    }
  },
);

test(
  'ota rollback on the device takes a committed update back to the previous slot',
  { timeout: 60_000 },
  async () => {
    const d = await setup('healthy', '5.0.0');
    const l = startLauncher(d.dataDir, factory);
    try {
      await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/);
      await d.agent.install({ file: d.bundle });
      await waitForValue('Committed', () => state(d.dataDir).phase === 'Committed');
      const r = await runCli(['ota', 'rollback', '--data-dir', d.dataDir], {
        env: { OTA_FACTORY_DIR: factory },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /from slot a to factory/);
      await l.waitFor(
        /test-agent 5\.0\.0 healthy started slot=a[^]*test-agent 1\.0\.0 healthy started slot=factory/,
      );
      const s = state(d.dataDir);
      assert.equal(s.active, 'factory');
      assert.equal(s.error?.reason, 'manual');
      const again = await runCli(['ota', 'rollback', '--data-dir', d.dataDir], {
        env: { OTA_FACTORY_DIR: factory },
      });
      assert.equal(again.code, 2);
      assert.match(again.stderr, /nothing to roll back to/);
    } finally {
      await l.stop();
    }
  },
);
