// Maintenance windows through the running agent and a real mosquitto (CONTRACT.md §8): one window,
// opening ~25 s after the test starts, is announced `scheduled` before it starts, then `started` and
// `ended`, retained, with the right times; a scheduled job due every 3 s runs only inside the window
// while a manual run goes at once; a kill -9 inside the window and a restart announce `started` again
// with the same end; the dashboard (its state, and the page in Chromium) and the heartbeat show the window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import mqtt from 'mqtt';
import type { ChildProcess } from 'node:child_process';
import { spawnCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { sleep, waitFor, waitForAsync } from '../helpers/wait.js';
import { launchChromium, skipWithoutChromium } from '../helpers/chromium.js';

interface Msg {
  topic: string;
  json: Record<string, unknown>;
  at: number;
  retain: boolean;
}

// The page's DOM, as seen from page.waitForFunction (the tests are not compiled with lib dom).
declare const document: { querySelector(sel: string): { textContent: string | null } | null };

const LEAD_MS = 25_000;
const WINDOW_S = 22;

test(
  'a window is announced scheduled, started, ended (retained); jobs wait for it; restart inside it',
  { timeout: 120_000 },
  async (t) => {
    const broker = await startMosquitto();
    const dir = tmpDir();
    const cfg = join(dir.path, 'gateway.yaml');
    const dataDir = join(dir.path, 'data');
    const httpPort = await freePort();
    // One window a little ahead, whole seconds (local time, as cron reads it); once an hour.
    const start = new Date(Math.ceil((Date.now() + LEAD_MS) / 1000) * 1000);
    const end = new Date(start.getTime() + WINDOW_S * 1000);
    writeFileSync(
      cfg,
      stringify({
        gateway: { tenant: 'acme', id: 'gw-win' },
        wms: { urls: [broker.url], reconnect: { minMs: 100, maxMs: 500 }, heartbeatSeconds: 1 },
        maintenance: {
          randomDelaySeconds: 0,
          windows: [
            {
              cron: `${start.getSeconds()} ${start.getMinutes()} * * * *`,
              durationMinutes: WINDOW_S / 60,
            },
          ],
          announceMinutes: 10 / 60,
          schedules: { integrityCheck: '*/3 * * * * *' },
        },
      }),
    );
    let agent: ChildProcess | undefined;
    let out = '';
    const launch = () => {
      const a = spawnCli(['run', '--config', cfg, '--data-dir', dataDir], {
        env: { HTTP_PORT: String(httpPort) },
      });
      a.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
      a.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
      agent = a;
      return a;
    };
    const msgs: Msg[] = [];
    const wms = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 200 });
    wms.on('error', () => {});
    wms.on('message', (topic, payload, packet) => {
      try {
        msgs.push({
          topic,
          json: JSON.parse(payload.toString()) as Record<string, unknown>,
          at: Date.now(),
          retain: packet.retain,
        });
      } catch {
        /* not JSON */
      }
    });
    await new Promise<void>((resolve) =>
      wms.on('connect', () => wms.subscribe('wms/acme/gw-win/#', { qos: 1 }, () => resolve())),
    );
    t.after(async () => {
      agent?.kill('SIGKILL');
      await wms.endAsync(true);
      await broker.stop();
      dir.cleanup();
    });
    const windows = () => msgs.filter((m) => m.topic === 'wms/acme/gw-win/maintenance/window');
    const reports = () =>
      msgs
        .filter((m) => m.topic === 'wms/acme/gw-win/maintenance/report')
        .map((m) => m.json as { job: string; startedAt: string });
    const diag = () => `${JSON.stringify(windows().map((m) => m.json))}\n${out.slice(-3000)}`;

    launch();
    const base = `http://127.0.0.1:${httpPort}`;
    await waitForAsync(async () => (await fetch(`${base}/api/state`)).ok, 30_000, 'the agent HTTP');
    assert.ok(Date.now() < start.getTime() - 10_000, 'the agent came up before the announcement');
    // The dashboard already shows the next window; the heartbeat carries it.
    const state = (await (await fetch(`${base}/api/state`)).json()) as {
      maintenanceWindow: { state: string; start: string; end: string; jobs: string[] };
    };
    assert.equal(state.maintenanceWindow.state, 'scheduled');
    assert.equal(state.maintenanceWindow.start, start.toISOString());
    assert.equal(state.maintenanceWindow.end, end.toISOString());
    assert.ok(state.maintenanceWindow.jobs.includes('integrityCheck'));
    const hb = await waitFor(
      () => msgs.some((m) => m.topic.endsWith('/heartbeat') && m.json.window),
      15_000,
      'a heartbeat with the window',
    ).then(() => msgs.find((m) => m.topic.endsWith('/heartbeat') && m.json.window)!.json);
    assert.deepEqual(hb.window, {
      state: 'scheduled',
      start: start.toISOString(),
      end: end.toISOString(),
    });
    // A manual run goes at once, outside the window.
    const token = readFileSync(join(dataDir, 'http-token'), 'utf8').trim();
    const manual = await fetch(`${base}/api/maintenance/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ job: 'integrityCheck' }),
    });
    assert.equal(manual.status, 200);
    const manualStarted = Date.parse(((await manual.json()) as { startedAt: string }).startedAt);
    assert.ok(manualStarted < start.getTime());

    await waitFor(() => windows().some((m) => m.json.state === 'scheduled'), 30_000, diag);
    const scheduled = windows().find((m) => m.json.state === 'scheduled')!;
    assert.ok(scheduled.at < start.getTime(), 'announced before the window');
    assert.ok(scheduled.at >= start.getTime() - 10_000 - 2000, 'about announceMinutes before');
    assert.equal(scheduled.json.start, start.toISOString());
    assert.equal(scheduled.json.end, end.toISOString());
    assert.ok((scheduled.json.jobs as string[]).includes('integrityCheck'));

    await waitFor(() => windows().some((m) => m.json.state === 'started'), 30_000, diag);
    const started = windows().find((m) => m.json.state === 'started')!;
    assert.ok(started.at >= start.getTime() - 100, 'started at the start, not before');
    assert.equal(started.json.end, end.toISOString());
    // The scheduled job, due every 3 s all along, ran only from the window's start.
    await waitFor(
      () => reports().some((r) => Date.parse(r.startedAt) >= start.getTime()),
      15_000,
      () => `a scheduled report in the window: ${JSON.stringify(reports())}\n${out.slice(-2000)}`,
    );
    for (const r of reports())
      if (Date.parse(r.startedAt) !== manualStarted)
        assert.ok(
          Date.parse(r.startedAt) >= start.getTime() - 50,
          `no scheduled run before the window: ${r.startedAt}`,
        );

    // kill -9 inside the window; the restarted agent announces started again, with the same end.
    const before = windows().length;
    agent!.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    launch();
    await waitFor(
      () =>
        windows()
          .slice(before)
          .some((m) => m.json.state === 'started' && !m.retain),
      20_000,
      diag,
    );
    const again = windows()
      .slice(before)
      .find((m) => m.json.state === 'started' && !m.retain)!;
    assert.equal(again.json.start, start.toISOString());
    assert.equal(again.json.end, end.toISOString());
    assert.ok(again.at < end.getTime(), 'the restart was inside the window');

    await waitFor(() => windows().some((m) => m.json.state === 'ended'), 45_000, diag);
    const ended = windows().find((m) => m.json.state === 'ended')!;
    assert.ok(ended.at >= end.getTime() - 100, 'ended at the end');
    assert.equal(ended.json.start, start.toISOString());
    // Retained: a WMS subscriber that connects now gets `ended`.
    const late = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 200 });
    late.on('error', () => {});
    const retained = await new Promise<{ json: Record<string, unknown>; retain: boolean }>(
      (resolve) => {
        late.on('message', (_topic, payload, packet) =>
          resolve({
            json: JSON.parse(payload.toString()) as Record<string, unknown>,
            retain: packet.retain,
          }),
        );
        late.on('connect', () => late.subscribe('wms/acme/gw-win/maintenance/window', { qos: 1 }));
      },
    );
    await late.endAsync(true);
    assert.equal(retained.retain, true);
    assert.equal(retained.json.state, 'ended');
    assert.equal(retained.json.end, end.toISOString());
    // Jobs due after the end wait again: none starts after it (the one due every 3 s included).
    await sleep(4000);
    const afterEnd = reports().filter((r) => Date.parse(r.startedAt) >= end.getTime() + 500);
    assert.deepEqual(afterEnd, []);

    // The dashboard page (headless Chromium) shows the next window, an hour on, with its job.
    if (skipWithoutChromium()) return t.diagnostic('no chromium: dashboard not checked');
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/`);
      await page.waitForFunction(
        () => /next window/.test(document.querySelector('#window')?.textContent ?? ''),
        undefined,
        { timeout: 20_000 },
      );
      const text = (await page.textContent('#window')) ?? '';
      const nextStart = new Date(start.getTime() + 3600_000);
      const shown = await page.evaluate(
        (iso) => new Date(iso).toLocaleString(),
        nextStart.toISOString(),
      );
      assert.ok(text.startsWith(`next window: ${shown}`), text);
      assert.match(text, /integrityCheck/);
    } finally {
      await browser.close();
    }
  },
);
