// Agent OTA switches and maintenance windows (CONTRACT.md §8) through the image's entry point (the
// launcher) with the real agent, a real mosquitto, the simulator and bundles over HTTP. One window,
// once an hour: an unsigned "now" is refused (now-unsigned); a manifest signed with "now": true
// switches at once, long before the window; then the gateway restarts with a window ~75 s ahead, and
// an ordinary offer waits in Switching (ota/state says for which window), survives a kill -9 of the
// launcher, and switches once, inside the window. The window is set when the last test starts, so
// however long the first two take on a loaded machine, it cannot open under them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { sleep } from '../helpers/wait.js';
import { packFull } from '../../ota/bundle/pack.js';
import { GATEWAY, TENANT, agentBuild, plc, startGateway } from './ota-image.js';
import { otaRig } from './ota-rig.js';

const rig = otaRig({
  tmpPrefix: 'e2e-ota-window-',
  kid: 'release-1',
  writeConfig: () => writeConfig(FIRST_LEAD_MS),
  start: true,
});
const { bundles, dataDir, config, opts } = rig;

let windowStart: Date;
let windowEnd: Date;

// First window far off (the first two tests run before it), then one LEAD_MS after the restart.
const FIRST_LEAD_MS = 30 * 60_000;
const LEAD_MS = 75_000;
const WINDOW_S = 60;

type State = {
  phase: string;
  active: string;
  slots: Record<string, { version: string } | null>;
  error?: { reason: string; message: string };
  waitsForWindow?: { start: string; end: string };
  history: Array<{ ts: string; from: string; to: string; update?: string; message: string }>;
};
const otaState = () => rig.watch.last('ota/state') as State | undefined;
const activeVersion = (s: State | undefined) => s && s.slots[s.active]?.version;

/** The gateway's config with its one window opening leadMs from now (sets windowStart/End). */
function writeConfig(leadMs: number): void {
  // Whole seconds, local time (as cron reads it), once an hour: one window in this file's life.
  windowStart = new Date(Math.ceil((Date.now() + leadMs) / 1000) * 1000);
  windowEnd = new Date(windowStart.getTime() + WINDOW_S * 1000);
  writeFileSync(
    config,
    stringify({
      gateway: { tenant: TENANT, id: GATEWAY },
      wms: {
        urls: [rig.broker.url],
        reconnect: { minMs: 100, maxMs: 1000 },
        heartbeatSeconds: 3600,
      },
      plcs: [plc('plc-0', rig.sims[0]!.port)],
      ota: {
        keys: [rig.keys.publicJwk],
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

test(
  'an unsigned "now" does not bypass the window: refused now-unsigned',
  { timeout: 180_000 },
  async () => {
    await rig.watch.until('ota/state of the running image', () => otaState()?.phase);
    await rig.watch.offer(JSON.stringify({ url: rig.http.url('x.bundle'), now: true }));
    const s = await rig.watch.until('the refusal', () => {
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
    const built = agentBuild(rig.image, join(rig.dir, 'build-0.2.0'), '0.2.0');
    const r = await packFull(
      built,
      opts({ version: '0.2.0', counter: 2, url: rig.http.url('0.2.0.bundle'), now: true }),
      join(bundles, '0.2.0.bundle'),
    );
    await rig.watch.offer(r.jws);
    const s = await rig.watch.until('Committed on 0.2.0', () => {
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
    await rig.gw!.stop();
    writeConfig(LEAD_MS);
    const startedAt = Date.now();
    rig.gw = startGateway(rig.image, config, dataDir);
    await rig.watch.until('ota/state from the gateway on the new window', () =>
      rig.watch.all('ota/state').some((e) => e.at >= startedAt),
    );
    const built = agentBuild(rig.image, join(rig.dir, 'build-0.3.0'), '0.3.0');
    const r = await packFull(
      built,
      opts({ version: '0.3.0', counter: 3, url: rig.http.url('0.3.0.bundle') }),
      join(bundles, '0.3.0.bundle'),
    );
    await rig.watch.offer(r.jws);
    const waiting = await rig.watch.until('Switching, waiting for the window', () => {
      const x = otaState();
      return x?.phase === 'Switching' && x.waitsForWindow && x;
    });
    assert.deepEqual(waiting.waitsForWindow, {
      start: windowStart.toISOString(),
      end: windowEnd.toISOString(),
    });
    assert.match(waiting.history.at(-1)!.message, /maintenance window/);
    // Power cut while waiting: the restarted gateway keeps waiting.
    await rig.gw!.kill9();
    const restartedAt = Date.now();
    rig.gw = startGateway(rig.image, config, dataDir);
    const again = await rig.watch.until('ota/state from the restarted agent', () => {
      const m = rig.watch.all('ota/state').find((e) => e.at >= restartedAt);
      return m && (m.msg as State);
    });
    assert.equal(again.phase, 'Switching', 'still waiting after the restart');
    assert.deepEqual(again.waitsForWindow, waiting.waitsForWindow);
    assert.ok(Date.now() < windowStart.getTime(), 'still before the window');
    await sleep(2000);
    assert.equal(otaState()?.phase, 'Switching', 'not switched before the window');
    const s = await rig.watch.until(
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
