// The dashboard's OTA panel against the running agent (`wms-gateway run`, real mosquitto and simulator),
// in headless Chromium: the panel shows what the agent's real ota/state payload says — the active slot
// and its version, the phase, the factory slot's image version, and the history of moves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { stringify } from 'yaml';
import { ROOT, spawnCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';
import { startSimulator } from '../../plc/simulator/simulator.js';
import { otaPaths } from '../../ota/device/paths.js';
import { initialState, move } from '../../ota/device/state-store.js';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

test(
  'the OTA panel renders the running agent’s ota/state: active slot, phase, factory version, history',
  {
    timeout: 150_000,
    skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`,
  },
  async (t) => {
    const broker = await startMosquitto();
    const sim = await startSimulator({ port: 0 });
    const dir = tmpDir();
    const dataDir = join(dir.path, 'data');
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
    const cfg = join(dir.path, 'gateway.yaml');
    writeFileSync(
      cfg,
      stringify({
        gateway: { tenant: 'acme', id: 'gw-dash' },
        wms: { urls: [broker.url], heartbeatSeconds: 3600 },
        plcs: [
          {
            id: 'plc-0',
            transport: { type: 'tcp', host: '127.0.0.1', port: sim.port },
            groups: [
              {
                intervalMs: 500,
                tags: [{ name: 'counter', area: 'holding', address: 0, type: 'uint16' }],
              },
            ],
          },
        ],
      }),
    );
    const agent = spawnCli(['run', '--config', cfg, '--data-dir', dataDir], {
      env: { HTTP_PORT: '0', LOG_LEVEL: 'info' },
    });
    let out = '';
    agent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    agent.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    t.after(async () => {
      await browser.close();
      agent.kill('SIGKILL');
      await sim.close();
      await broker.stop();
      dir.cleanup();
    });
    let port = 0;
    await waitFor(
      () => {
        const m = /"port":(\d+)[^\n]*"msg":"http listening/.exec(out);
        if (m) port = Number(m[1]);
        return port > 0;
      },
      90_000,
      'the agent listening on HTTP',
      50,
    );
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
