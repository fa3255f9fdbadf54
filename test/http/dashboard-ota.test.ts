// The dashboard's OTA panel against the running agent (`wms-gateway run`, real mosquitto and simulator),
// in headless Chromium: the panel shows what the agent's real ota/state payload says — the active slot
// and its version, the phase, the factory slot's image version, and the history of moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, skipWithoutChromium } from '../helpers/chromium.js';
import { ROOT } from '../helpers/cli.js';
import { onTeardown, startGateway } from '../helpers/gateway-fixture.js';
import { otaPaths } from '../../ota/device/paths.js';
import { initialState, move } from '../../ota/device/state-store.js';

test(
  'the OTA panel renders the running agent’s ota/state: active slot, phase, factory version, history',
  {
    timeout: 150_000,
    skip: skipWithoutChromium(),
  },
  async (t) => {
    const gw = await startGateway(t, {
      id: 'gw-dash',
      sims: 1,
      plc: { intervalMs: 500 },
      collect: false,
      http: true,
      start: false,
    });
    const dataDir = gw.dataDir;
    mkdirSync(dataDir, { recursive: true });
    // A device that committed 0.2.0 in slot a (the state the launcher and updater leave behind).
    const paths = otaPaths(dataDir);
    const s = initialState();
    s.update = {
      id: 'wms-gateway@0.2.0#2',
      version: '0.2.0',
      target: 'agent',
      source: {},
      startedAt: new Date().toISOString(),
    };
    move(paths, s, 'Verifying', { message: 'verifying' });
    move(paths, s, 'Installing', { message: 'installing wms-gateway 0.2.0' });
    s.slots.a = {
      name: 'wms-gateway',
      version: '0.2.0',
      counter: 2,
      treeSha256: '0'.repeat(64),
      installedAt: new Date().toISOString(),
    };
    move(paths, s, 'Switching', { message: 'slot a holds wms-gateway 0.2.0; switching' });
    s.active = 'a';
    move(paths, s, 'Probation', { message: 'slot a (0.2.0) active on probation' });
    s.progress = 1;
    move(paths, s, 'Committed', { message: 'slot a (0.2.0) healthy for 60 s; committed' });
    await gw.startAgent();
    const browser = await launchChromium();
    onTeardown(t, () => browser.close());
    const port = gw.httpPort;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('#live.on', { timeout: 30_000 });
    await page.waitForFunction(
      () => /phase/.test(document.querySelector('#ota')?.textContent ?? ''),
      undefined,
      { timeout: 15_000 },
    );
    const panel = (await page.textContent('#ota')) ?? '';
    const image = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    ).version;
    assert.match(panel, /activea \(0\.2\.0\)/);
    assert.match(panel, /phaseCommitted/);
    assert.match(
      panel,
      new RegExp(`slot factory${image.replace(/\./g, '\\.')}`),
      'the image version for factory',
    );
    assert.match(panel, /slot awms-gateway 0\.2\.0 · active/);
    assert.match(panel, /slot bempty/);
    const history = (await page.textContent('#ota-history')) ?? '';
    assert.match(
      history,
      /Probation → Committed · wms-gateway@0\.2\.0#2 · slot a \(0\.2\.0\) healthy/,
    );
    assert.deepEqual(errors, []);
  },
);

declare const document: { querySelector(sel: string): { textContent: string | null } | null };
