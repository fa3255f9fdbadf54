// OTA of the agent through the image's entry point (the launcher) with the real agent, a real
// mosquitto, the simulator and bundles over HTTP: a bundle offered on ota/offer is switched to,
// committed and online with its version; a bundle that crashes on start is rolled back with an alert
// and the old version back online; a delta for another base makes the device fetch the full bundle.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startSimulator } from '../../plc/simulator/simulator.js';
import { generateSigningKey, type KeyPair } from '../../ota/bundle/signing.js';
import { packDelta, packFull, type PackOptions } from '../../ota/bundle/pack.js';
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

const tmp = tmpDir('e2e-ota-');
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

const opts = (o: Partial<PackOptions> & { version: string; counter: number }): PackOptions =>
  packOptions(keys.privateJwk, o);

type State = {
  phase: string;
  active: string;
  slots: Record<string, { version: string } | null>;
  error?: { reason: string };
  history: Array<{ to: string; reason?: string; message: string }>;
};
const otaState = () => watch.last('ota/state') as State | undefined;
const onlineSince = (t: number, version: string) =>
  watch
    .all('status')
    .some((m) => m.at >= t && m.msg.state === 'online' && m.msg.version === version);

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
    gw = startGateway(image, config, dataDir);
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
  'an agent bundle offered on ota/offer is switched to, committed and online with its version',
  { timeout: 240_000 },
  async () => {
    await watch.until('the image online with 0.1.0', () => onlineSince(0, '0.1.0'));
    const built = agentBuild(image, join(tmp.path, 'build-0.2.0'), '0.2.0');
    const r = await packFull(
      built,
      opts({ version: '0.2.0', counter: 2, url: http.url('0.2.0.bundle') }),
      join(bundles, '0.2.0.bundle'),
    );
    const offeredAt = Date.now();
    await watch.offer(r.jws);
    const s = await watch.until('Committed', () => {
      const x = otaState();
      return x?.phase === 'Committed' && x.active === 'a' && x;
    });
    assert.equal(s.slots.a?.version, '0.2.0');
    assert.equal(s.slots.factory?.version, '0.1.0', 'the factory slot keeps the image version');
    await watch.until('0.2.0 online', () => onlineSince(offeredAt, '0.2.0'));
    assert.deepEqual(
      s.history.slice(-6).map((h) => h.to),
      ['Downloading', 'Verifying', 'Installing', 'Switching', 'Probation', 'Committed'],
    );
  },
);

test(
  'a bundle that crashes on start is rolled back, an alert goes out, the old version is back online',
  { timeout: 240_000 },
  async () => {
    const built = crashingBuild(join(tmp.path, 'build-0.3.0'), '0.3.0');
    const r = await packFull(
      built,
      opts({ version: '0.3.0', counter: 3, url: http.url('0.3.0.bundle') }),
      join(bundles, '0.3.0.bundle'),
    );
    const offeredAt = Date.now();
    await watch.offer(r.jws);
    const s = await watch.until('rolled back', () => {
      const x = otaState();
      return x?.phase === 'Failed' && x.error?.reason === 'crash-loop' && x;
    });
    assert.equal(s.active, 'a', 'back on the slot that ran before');
    assert.deepEqual(
      s.history.slice(-2).map((h) => h.to),
      ['RollingBack', 'Failed'],
    );
    const alert = await watch.until('an ota.rolled-back alert', () =>
      watch.all('alerts').find((a) => a.at >= offeredAt && a.msg.code === 'ota.rolled-back'),
    );
    assert.equal(alert.msg.level, 'critical');
    assert.match(String(alert.msg.message), /0\.3\.0.*crash-loop/);
    await watch.until('0.2.0 online again', () => onlineSince(offeredAt, '0.2.0'));
  },
);

test(
  'a delta for another base: the full bundle named in the signed manifest is fetched and committed',
  { timeout: 240_000 },
  async () => {
    const other = agentBuild(image, join(tmp.path, 'build-0.3.9'), '0.3.9'); // a base this device never had
    const next = agentBuild(image, join(tmp.path, 'build-0.4.0'), '0.4.0');
    await packFull(
      next,
      opts({ version: '0.4.0', counter: 4 }),
      join(bundles, '0.4.0-full.bundle'),
    );
    const d = await packDelta(
      other,
      next,
      {
        ...opts({
          version: '0.4.0',
          counter: 4,
          url: http.url('0.4.0-delta.bundle'),
          fullUrl: http.url('0.4.0-full.bundle'),
        }),
        baseVersion: '0.3.9',
      },
      join(bundles, '0.4.0-delta.bundle'),
    );
    const offeredAt = Date.now();
    await watch.offer(d.jws);
    const s = await watch.until('Committed on 0.4.0', () => {
      const x = otaState();
      return x?.phase === 'Committed' && x.slots[x.active]?.version === '0.4.0' && x;
    });
    assert.equal(s.active, 'b');
    const refusal = s.history.find((h) => h.reason === 'base-mismatch');
    assert.ok(refusal, 'the refusal of the delta is kept in the history');
    assert.equal(refusal.to, 'Downloading');
    assert.match(refusal.message, /0\.4\.0-full\.bundle/);
    await watch.until('0.4.0 online', () => onlineSince(offeredAt, '0.4.0'));
  },
);
