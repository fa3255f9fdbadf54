// kill -9 of the image's launcher in every phase of an agent deployment, with the real agent, a real
// mosquitto and the simulator: after each restart the state is consistent (working phases →
// Failed/interrupted with the slot untouched; Switching → the switch is completed; Probation →
// probation again; RollingBack → the rollback is finished, with its alert) and the next offer is taken.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startSimulator } from '../../plc/simulator/simulator.js';
import { generateSigningKey, type KeyPair } from '../../ota/bundle/signing.js';
import { packFull } from '../../ota/bundle/pack.js';
import {
  agentBuild,
  packOptions,
  buildImage,
  crashingBuild,
  serveDir,
  startGateway,
  watchGateway,
  writeGatewayConfig,
  type Gateway,
  type Watch,
} from './ota-image.js';

const tmp = tmpDir('e2e-otacut-');
let image: string;
let keys: KeyPair;
let broker: Broker;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let http: Awaited<ReturnType<typeof serveDir>>;
let watch: Watch;
let gw: Gateway | undefined;
const bundles = join(tmp.path, 'bundles');
const dataDir = join(tmp.path, 'data');
const config = join(tmp.path, 'gateway.yaml');

type State = {
  phase: string;
  active: string;
  slots: Record<string, { version: string } | null>;
  error?: { reason: string };
  history: Array<{ from: string; to: string; reason?: string }>;
};

async function bundle(dir: string, version: string, counter: number): Promise<string> {
  const o = packOptions(keys.privateJwk, { version, counter, url: http.url(`${version}.bundle`) });
  return (await packFull(dir, o, join(bundles, `${version}.bundle`))).jws;
}

const stateSince = (t: number) =>
  watch
    .all('ota/state')
    .filter((m) => m.at >= t)
    .at(-1)?.msg as State | undefined;
const onlineSince = (t: number, version: string) =>
  watch
    .all('status')
    .some((m) => m.at >= t && m.msg.state === 'online' && m.msg.version === version);
const stateFile = () =>
  JSON.parse(readFileSync(join(dataDir, 'ota', 'state.json'), 'utf8')) as State;

async function restart(env: NodeJS.ProcessEnv = {}): Promise<Gateway> {
  await gw?.kill9();
  gw = startGateway(image, config, dataDir, env);
  return gw;
}

before(
  async () => {
    mkdirSync(bundles, { recursive: true });
    [image, keys, broker, sim, http] = await Promise.all([
      buildImage(),
      generateSigningKey('EdDSA', 'release-1'),
      startMosquitto(),
      startSimulator({ port: 0 }),
      serveDir(bundles),
    ]);
    watch = await watchGateway(broker.url);
    writeGatewayConfig(config, { broker: broker.url, plcPort: sim.port, otaKey: keys.publicJwk });
  },
  { timeout: 900_000 },
);

after(async () => {
  await gw?.stop();
  await watch?.close();
  await http?.close();
  await sim?.close();
  await broker?.stop();
  tmp.cleanup();
});

test(
  'kill -9 of the launcher in every phase of an agent deployment: a consistent phase, the next offer is taken',
  { timeout: 600_000 },
  async (t) => {
    const b2 = await bundle(agentBuild(image, join(tmp.path, 'b2'), '0.2.0'), '0.2.0', 2);
    let prev: string | undefined;
    for (const phase of ['Downloading', 'Verifying', 'Installing', 'Switching']) {
      const g = await restart({ WMS_GATEWAY_OTA_HOLD: phase });
      const s = await watch.until('ota/state after the restart', () => stateSince(g.startedAt));
      if (prev) {
        assert.equal(s.phase, 'Failed', prev);
        assert.equal(s.error?.reason, 'interrupted', prev);
        assert.equal(s.active, 'factory', `${prev}: the running slot was not touched`);
        assert.equal(s.history.at(-1)?.from, prev);
        t.diagnostic(`kill -9 in ${prev}: Failed (interrupted), factory slot running`);
      }
      await watch.until('0.1.0 online', () => onlineSince(g.startedAt, '0.1.0'));
      await watch.offer(b2);
      await g.waitOutput(new RegExp(`holding in ${phase}`));
      prev = phase;
    }
    // Killed in Switching: the restarted launcher completes the switch (and here holds in Probation
    // before starting the agent: a kill -9 there too).
    let g = await restart({ WMS_GATEWAY_OTA_HOLD: 'Probation' });
    await g.waitOutput(/holding in Probation/);
    const p = stateFile();
    assert.equal(p.phase, 'Probation');
    assert.equal(p.active, 'a');
    t.diagnostic('kill -9 in Switching: switch completed, slot a on probation');
    // Killed in Probation: probation starts again and the slot is committed.
    g = await restart({ WMS_GATEWAY_OTA_HOLD: 'RollingBack' });
    await watch.until('0.2.0 committed after kill -9 in Probation', () => {
      const s = stateSince(g.startedAt);
      return s?.phase === 'Committed' && s.active === 'a';
    });
    await watch.until('0.2.0 online', () => onlineSince(g.startedAt, '0.2.0'));
    // Killed in RollingBack (a crashing build): the restarted launcher finishes the rollback.
    await watch.offer(await bundle(crashingBuild(join(tmp.path, 'b3'), '0.3.0'), '0.3.0', 3));
    await g.waitOutput(/holding in RollingBack/);
    assert.equal(stateFile().phase, 'RollingBack');
    g = await restart();
    const s = await watch.until('rolled back after kill -9 in RollingBack', () => {
      const x = stateSince(g.startedAt);
      return x?.phase === 'Failed' && x;
    });
    assert.equal(s.error?.reason, 'crash-loop');
    assert.equal(s.active, 'a');
    await watch.until('0.2.0 online again', () => onlineSince(g.startedAt, '0.2.0'));
    await watch.until('an ota.rolled-back alert', () =>
      watch.all('alerts').some((a) => a.at >= g.startedAt && a.msg.code === 'ota.rolled-back'),
    );
    // The next offer is taken.
    const offeredAt = Date.now();
    await watch.offer(await bundle(agentBuild(image, join(tmp.path, 'b4'), '0.4.0'), '0.4.0', 4));
    await watch.until('0.4.0 committed', () => {
      const x = stateSince(offeredAt);
      return x?.phase === 'Committed' && x.slots[x.active]?.version === '0.4.0';
    });
    await watch.until('0.4.0 online', () => onlineSince(offeredAt, '0.4.0'));
  },
);
