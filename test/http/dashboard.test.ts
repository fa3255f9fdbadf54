// The dashboard in a real headless Chromium: it loads under its CSP without script errors, shows the
// gateway's PLCs, links, OTA, health and maintenance, and live values change as the gateway reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, skipWithoutChromium } from '../helpers/chromium.js';
import { tmpDir } from '../helpers/tmp.js';
import { ROOT } from '../helpers/cli.js';
import { startHttpServer } from '../../agent/http/server.js';
import { HealthMonitor } from '../../agent/health/monitor.js';
import { validateConfig } from '../../agent/config/validate.js';
import { DrivenView } from './view-stub.js';

// Functions below run in the page (the dashboard's CSP forbids string eval); this is the DOM they touch.
declare const document: { querySelector(sel: string): { textContent: string | null } | null };

const OUT = join(ROOT, 'test-output', 'dashboard');

test(
  'the dashboard loads in headless Chromium and live values change',
  {
    timeout: 90_000,
    skip: skipWithoutChromium(),
  },
  async () => {
    const dir = tmpDir();
    const view = new DrivenView();
    const health = new HealthMonitor({
      dataDir: dir.path,
      config: validateConfig({}).health,
      view,
      sample: async () => ({
        cpuPct: 23,
        memPct: 41,
        memTotalBytes: 1e9,
        diskPct: 35,
        diskFreeBytes: 1e10,
      }),
    });
    await health.check();
    const reports = [
      {
        job: 'fullBackup',
        startedAt: new Date().toISOString(),
        durationMs: 1234,
        cpuPct: 3,
        steps: [],
        problems: [],
      },
    ];
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      view,
      health,
      tokenPath: join(dir.path, 'http-token'),
      actions: { reports: async () => reports, runMaintenance: async (job) => ({ job }) },
    });
    const browser = await launchChromium();
    let ticker: NodeJS.Timeout | undefined;
    try {
      const page = await browser.newPage({ viewport: { width: 1024, height: 1366 } }); // a portrait tablet
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        // The refused action below is an expected 401.
        if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text());
      });
      await page.goto(`http://127.0.0.1:${server.port}/`);
      await page.waitForSelector('#live.on', { timeout: 15_000 });

      assert.equal(await page.textContent('#gw'), 'acme / gw-01');
      assert.equal(await page.textContent('#health'), 'degraded');
      assert.equal(await page.textContent('.plc[data-plc="conveyor-1"] h3 .badge'), 'connected');
      assert.equal(await page.textContent('.plc[data-plc="press-2"] h3 .badge'), 'disconnected');
      assert.match((await page.textContent('.plc[data-plc="press-2"] .err')) ?? '', /ECONNREFUSED/);
      assert.equal(await page.textContent('#outbox-messages'), '12');
      assert.equal(await page.textContent('#outbox-bytes'), '4.0 KiB');
      assert.match((await page.textContent('#ota')) ?? '', /slot awms-gateway 0\.1\.0 · active/);
      assert.match((await page.textContent('#ota-history')) ?? '', /Probation → Committed/);
      assert.match((await page.textContent('#maintenance')) ?? '', /fullBackup · 1\.2 s/);
      assert.match(
        (await page.textContent('#identity')) ?? '',
        /renewing.*CN=gw-01.*5E788097FA2DC40D.*expires.*days.*renewalpending/,
      );
      assert.match((await page.textContent('#alerts')) ?? '', /press-2 disconnected/);
      const countCell = '.plc[data-plc="conveyor-1"] td[data-tag="count"]';
      assert.equal(await page.textContent(countCell), '10');

      // The gateway reads: values move on the page without a reload.
      let n = 10;
      ticker = setInterval(
        () =>
          view.values({
            plc: 'conveyor-1',
            ts: new Date().toISOString(),
            values: { count: ++n, speed: 1.5 + n / 100 },
          }),
        100,
      );
      const countAbove = (v: number) =>
        page.waitForFunction(
          ([sel, min]) => Number(document.querySelector(sel)?.textContent) > min,
          [countCell, v] as [string, number],
          { timeout: 10_000 },
        );
      await countAbove(12);
      await countAbove(Number(await page.textContent(countCell)));
      // A new tag appears as its own row; a bad-quality tag is marked.
      view.values({
        plc: 'conveyor-1',
        ts: new Date().toISOString(),
        values: { temp: 21.5 },
        quality: { temp: 'bad' },
      });
      await page.waitForSelector('.plc[data-plc="conveyor-1"] td[data-tag="temp"].bad', {
        timeout: 5000,
      });
      // An alert arrives live.
      view.emit('alert', {
        ts: new Date().toISOString(),
        level: 'critical',
        code: 'disk',
        message: 'disk almost full',
      });
      await page.waitForFunction(
        () => document.querySelector('#alerts')?.textContent?.includes('disk almost full'),
        undefined,
        { timeout: 5000 },
      );

      // Actions without the token are refused and say so.
      await page.click('button[data-job="integrityCheck"]');
      await page.waitForFunction(
        () => document.querySelector('#action-result')?.textContent?.startsWith('refused'),
        undefined,
        { timeout: 5000 },
      );
      // With the token of $DATA_DIR/http-token they run.
      await page.fill('#token', readFileSync(join(dir.path, 'http-token'), 'utf8').trim());
      await page.click('button[data-job="integrityCheck"]');
      await page.waitForFunction(
        () => document.querySelector('#action-result')?.textContent === 'done',
        undefined,
        { timeout: 5000 },
      );

      mkdirSync(OUT, { recursive: true });
      const shot = join(OUT, 'dashboard.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 10_000, 'a real screenshot');
      assert.deepEqual(errors, [], 'no script or CSP errors');
    } finally {
      clearInterval(ticker);
      await browser.close();
      await server.close();
      dir.cleanup();
    }
  },
);
