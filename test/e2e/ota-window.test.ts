// Agent OTA switches and maintenance windows (CONTRACT.md §8) through the image's entry point (the
// launcher) with the real agent, a real mosquitto, the simulator and bundles over HTTP. One window,
// once an hour: an unsigned "now" is refused (now-unsigned); a manifest signed with "now": true
// switches at once, long before the window; then the gateway restarts with a window ~75 s ahead, and
// an ordinary offer waits in Switching (ota/state says for which window), survives a kill -9 of the
// launcher, and switches once, inside the window. The window is set when the last test starts, so
// however long the first two take on a loaded machine, it cannot open under them.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tmpDir } from '../helpers/tmp.js';
import { sleep } from '../helpers/wait.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startSimulator } from '../../plc/simulator/simulator.js';
import { generateSigningKey, type KeyPair } from '../../ota/bundle/signing.js';
import { packFull, type PackOptions } from '../../ota/bundle/pack.js';
import {
  GATEWAY,
  TENANT,
  agentBuild,
  buildImage,
  plc,
  serveDir,
  startGateway,
  watchGateway,
  type Gateway,
  type Watch,
} from './ota-image.js';

const tmp = tmpDir('e2e-ota-window-');
let image: string;
let keys: KeyPair;
let broker: Broker;
let sim: Awaited<ReturnType<typeof startSimulator>>;
let http: Awaited<ReturnType<typeof serveDir>>;
let watch: Watch;
let gw: Gateway | undefined;
let windowStart: Date;
let windowEnd: Date;
const bundles = join(tmp.path, 'bundles');
const dataDir = join(tmp.path, 'data');
const config = join(tmp.path, 'gateway.yaml');
// First window far off (the first two tests run before it), then one LEAD_MS after the restart.
const FIRST_LEAD_MS = 30 * 60_000;
const LEAD_MS = 75_000;
const WINDOW_S = 60;

const opts = (o: Partial<PackOptions> & { version: string; counter: number }): PackOptions => {
  const now = Math.floor(Date.now() / 1000);
  return {
    name: 'wms-gateway',
    target: 'agent',
    privateJwk: keys.privateJwk,
    iat: now - 60,
    exp: now + 7200,
    ...o,
  };
};

type State = {
  phase: string;
  active: string;
  slots: Record<string, { version: string } | null>;
  error?: { reason: string; message: string };
  waitsForWindow?: { start: string; end: string };
  history: Array<{ ts: string; from: string; to: string; update?: string; message: string }>;
};
const otaState = () => watch.last('ota/state') as State | undefined;
const activeVersion = (s: State | undefined) => s && s.slots[s.active]?.version;

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
    writeConfig(FIRST_LEAD_MS);
    gw = startGateway(image, config, dataDir);
  },
  { timeout: 900_000 },
);

/** The gateway's config with its one window opening leadMs from now (sets windowStart/End). */
function writeConfig(leadMs: number): void {
  // Whole seconds, local time (as cron reads it), once an hour: one window in this file's life.
  windowStart = new Date(Math.ceil((Date.now() + leadMs) / 1000) * 1000);
  windowEnd = new Date(windowStart.getTime() + WINDOW_S * 1000);
  writeFileSync(
    config,
    stringify({
      gateway: { tenant: TENANT, id: GATEWAY },
      wms: { urls: [broker.url], reconnect: { minMs: 100, maxMs: 1000 }, heartbeatSeconds: 3600 },
      plcs: [plc('plc-0', sim.port)],
      ota: {
        keys: [keys.publicJwk],
        minHealthySeconds: 2,
        probationGraceSeconds: 30,
        crashLoop: { exits: 3, windowSeconds: 60 },
      },
      maintenance: {
        windows: [
          {
            cron: `${windowStart.getSeconds()} ${windowStart.getMinutes()} * * * *`,
            durationMinutes: WINDOW_S / 60,
          },
        ],
        announceMinutes: 0,
      },
    }),
  );
}

after(async () => {
  await gw?.stop();
  await watch?.close();
  await http?.close();
  await sim?.close();
  await broker?.stop();
  tmp.cleanup();
});

test(
  'an unsigned "now" does not bypass the window: refused now-unsigned',
  { timeout: 180_000 },
  async () => {
    await watch.until('ota/state of the running image', () => otaState()?.phase);
    await watch.offer(JSON.stringify({ url: http.url('x.bundle'), now: true }));
    const s = await watch.until('the refusal', () => {
      const x = otaState();
      return x?.error?.reason === 'now-unsigned' && x;
    });
    assert.match(s.error!.message, /signed manifest/);
    assert.notEqual(s.phase, 'Switching');
  },
);

test(
  'a manifest signed with "now": true switches at once, outside the window',
  { timeout: 90_000 },
  async () => {
    const built = agentBuild(image, join(tmp.path, 'build-0.2.0'), '0.2.0');
    const r = await packFull(
      built,
      opts({ version: '0.2.0', counter: 2, url: http.url('0.2.0.bundle'), now: true }),
      join(bundles, '0.2.0.bundle'),
    );
    await watch.offer(r.jws);
    const s = await watch.until('Committed on 0.2.0', () => {
      const x = otaState();
      return x?.phase === 'Committed' && activeVersion(x) === '0.2.0' && x;
    });
    const switched = s.history.find((h) => h.from === 'Switching' && h.to === 'Probation')!;
    assert.ok(Date.parse(switched.ts) < windowStart.getTime(), 'switched before the window opened');
  },
);

test(
  'an offer waits for the window (ota/state says until when), survives kill -9, switches once in it',
  { timeout: 240_000 },
  async () => {
    // Windows are read at start: restart on a config whose window opens LEAD_MS from now.
    await gw!.stop();
    writeConfig(LEAD_MS);
    const startedAt = Date.now();
    gw = startGateway(image, config, dataDir);
    await watch.until('ota/state from the gateway on the new window', () =>
      watch.all('ota/state').some((e) => e.at >= startedAt),
    );
    const built = agentBuild(image, join(tmp.path, 'build-0.3.0'), '0.3.0');
    const r = await packFull(
      built,
      opts({ version: '0.3.0', counter: 3, url: http.url('0.3.0.bundle') }),
      join(bundles, '0.3.0.bundle'),
    );
    await watch.offer(r.jws);
    const waiting = await watch.until('Switching, waiting for the window', () => {
      const x = otaState();
      return x?.phase === 'Switching' && x.waitsForWindow && x;
    });
    assert.deepEqual(waiting.waitsForWindow, {
      start: windowStart.toISOString(),
      end: windowEnd.toISOString(),
    });
    assert.match(waiting.history.at(-1)!.message, /maintenance window/);
    // Power cut while waiting: the restarted gateway keeps waiting.
    await gw!.kill9();
    const restartedAt = Date.now();
    gw = startGateway(image, config, dataDir);
    const again = await watch.until('ota/state from the restarted agent', () => {
      const m = watch.all('ota/state').find((e) => e.at >= restartedAt);
      return m && (m.msg as State);
    });
    assert.equal(again.phase, 'Switching', 'still waiting after the restart');
    assert.deepEqual(again.waitsForWindow, waiting.waitsForWindow);
    assert.ok(Date.now() < windowStart.getTime(), 'still before the window');
    await sleep(2000);
    assert.equal(otaState()?.phase, 'Switching', 'not switched before the window');
    const s = await watch.until(
      'Committed on 0.3.0',
      () => {
        const x = otaState();
        return x?.phase === 'Committed' && activeVersion(x) === '0.3.0' && x;
      },
      LEAD_MS + WINDOW_S * 1000,
    );
    const switches = s.history.filter(
      (h) => h.from === 'Switching' && h.to === 'Probation' && /0\.3\.0/.test(h.update ?? ''),
    );
    assert.equal(switches.length, 1, 'switched once');
    const at = Date.parse(switches[0]!.ts);
    assert.ok(
      at >= windowStart.getTime(),
      `switched in the window, not before: ${switches[0]!.ts}`,
    );
    assert.ok(at < windowEnd.getTime(), `switched before the window ended: ${switches[0]!.ts}`);
  },
);
