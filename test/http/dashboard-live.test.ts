// The dashboard of the running agent (`wms-gateway run` with a simulated PLC and a real mosquitto),
// in headless Chromium: trends are drawn from the live stream, quality and staleness show per tag, and
// a tag write from the page goes through the command checks and the audit log, confirmed by an
// independent Modbus read of the simulator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, skipWithoutChromium } from '../helpers/chromium.js';
import { onTeardown, startGateway } from '../helpers/gateway-fixture.js';
import { ROOT } from '../helpers/cli.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';

// Functions below run in the page; this is the part of the DOM they touch.
declare const document: {
  querySelector(sel: string): {
    textContent: string | null;
    width: number;
    height: number;
    getContext(k: '2d'): {
      getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
    };
  } | null;
  querySelectorAll(sel: string): { length: number };
};

const OUT = join(ROOT, 'test-output', 'dashboard');

interface AuditLine {
  who: string | null;
  outcome: string;
  reason?: string;
  what?: { plc?: string; values?: Record<string, unknown> };
}

test(
  'the running agent’s dashboard: live trends, quality and staleness, token-guarded tag writes',
  {
    timeout: 180_000,
    skip: skipWithoutChromium(),
  },
  async (t) => {
    const gw = await startGateway(t, {
      id: 'gw-dash',
      sims: 1,
      plcIds: ['line-1'],
      move: false,
      plc: {
        timeoutMs: 300,
        groups: [
          {
            intervalMs: 200,
            tags: [
              { name: 'counter', area: 'holding', address: 0, type: 'uint16' },
              { name: 'level', area: 'holding', address: 1, type: 'int16', scale: 0.1 },
              {
                name: 'target',
                area: 'holding',
                address: 20,
                type: 'int16',
                writable: true,
                min: 0,
                max: 1500,
              },
            ],
          },
        ],
      },
      extra: { commands: { requireSignature: true, keys: [] } },
      collect: false,
      http: true,
    });
    const { dataDir, httpPort } = gw;
    const sim = gw.sims[0]!;
    // A counter and a level that climbs and falls: something for the trends to draw.
    let n = 0;
    const mover = setInterval(() => {
      const regs = sim.registers(1, 'holding');
      n++;
      regs[0] = n & 0xffff;
      regs[1] = Math.round(500 + 300 * Math.sin(n / 10)) & 0xffff;
    }, 100);
    const browser = await launchChromium();
    mkdirSync(OUT, { recursive: true });
    const last: { page?: import('playwright-core').Page } = {};
    onTeardown(t, async () => {
      clearInterval(mover);
      // What the page showed last, for a failed run.
      await last.page
        ?.screenshot({ path: join(OUT, 'dashboard-live-last.png'), fullPage: true })
        .catch(() => undefined);
      await browser.close();
    });
    const base = `http://127.0.0.1:${httpPort}`;

    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    last.page = page;
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      // The refused writes below answer 401 and 422 on purpose.
      if (m.type() === 'error' && !/status of (401|422)/.test(m.text())) errors.push(m.text());
    });
    await page.goto(`${base}/`);
    await page.waitForSelector('#live.on', { timeout: 20_000 });
    const row = (tag: string) => `.plc[data-plc="line-1"] tr[data-tag="${tag}"]`;

    // Every configured tag has a row, before and after values arrive; live values are good, not stale.
    for (const tag of ['counter', 'level', 'target']) await page.waitForSelector(row(tag));
    await page.waitForFunction(
      (sel) => Number(document.querySelector(sel)?.textContent) > 20,
      `${row('counter')} td.v`,
      { timeout: 20_000 },
    );
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent === 'good',
      `${row('level')} td.q .qb`,
      { timeout: 10_000 },
    );

    // Trends: a sparkline per numeric tag, and the clicked tag's chart with its min and max.
    await page.waitForFunction(
      () => document.querySelectorAll('.plc[data-plc="line-1"] td.spark canvas').length >= 2,
      undefined,
      { timeout: 20_000 },
    );
    await page.click(`${row('level')} th`);
    await page.waitForFunction(
      () =>
        /level · last 10 min · min \d+(\.\d+)? · max \d+(\.\d+)?/.test(
          document.querySelector('.plc[data-plc="line-1"] .trend .title')?.textContent ?? '',
        ),
      undefined,
      { timeout: 20_000 },
    );
    // The chart has drawn a line: count the coloured pixels of its canvas after a few more reads.
    await page.waitForTimeout(3000); // lets the trend gather readings the chart then draws
    const inked = await page.evaluate(() => {
      const c = document.querySelector('.plc[data-plc="line-1"] .trend canvas');
      if (!c) return 0;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let k = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 2]! > 150 && d[i]! < 80 && d[i + 3]! > 0) k++;
      return k;
    });
    assert.ok(inked > 200, `the level trend is drawn (${inked} line pixels)`);

    // Writes: refused without the token, with a wrong one, out of range; done with it.
    const token = readFileSync(join(dataDir, 'http-token'), 'utf8').trim();
    const result = `.plc[data-plc="line-1"] .wres`;
    const write = async (value: string, tok: string, expect: RegExp) => {
      await page.fill('#token', tok);
      await page.fill(`${row('target')} td.wr input`, value);
      await page.click(`${row('target')} button[data-write="target"]`);
      await page.waitForFunction(
        ([sel, re]) => new RegExp(re).test(document.querySelector(sel)?.textContent ?? ''),
        [result, expect.source] as [string, string],
        { timeout: 20_000 },
      );
    };
    await write('700', '', /^refused: the token is missing or wrong$/);
    await write('700', 'not-the-token', /^refused: the token is missing or wrong$/);
    await write('2000', token, /^refused: out.of.range\b/);
    assert.equal(sim.registers(1, 'holding')[20], 0, 'nothing written by refused writes');
    await write('700', token, /^written target = 700/);
    assert.equal(sim.registers(1, 'holding')[20], 700, 'the PLC register holds the value');
    // A read-only tag has no write control, and the API refuses it with the command's reason.
    assert.equal(await page.$(`${row('counter')} td.wr input`), null);
    const ro = await fetch(`${base}/api/write`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ plc: 'line-1', values: { counter: 1 } }),
    });
    assert.equal(ro.status, 422);
    const roBody = (await ro.json()) as { ack: { reason: string } };
    assert.match(roBody.ack.reason, /not.writable/);

    // Every try is in the audit log, with who and why.
    const auditFile = join(dataDir, 'audit', 'audit.jsonl');
    let audit: AuditLine[] = [];
    await waitFor(
      () => {
        audit = existsSync(auditFile)
          ? readFileSync(auditFile, 'utf8')
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l) as AuditLine)
              .filter((a) => a.who === 'dashboard')
          : [];
        return audit.length >= 5;
      },
      10_000,
      'five dashboard entries in the audit log',
    );
    const outcomes = audit.map((a) => `${a.outcome}:${a.reason ?? ''}`);
    assert.ok(outcomes.includes('rejected:no-token'), outcomes.join(' '));
    assert.ok(outcomes.includes('rejected:bad-token'), outcomes.join(' '));
    assert.ok(
      outcomes.some((o) => /^rejected:out.of.range\b/.test(o)),
      outcomes.join(' '),
    );
    assert.ok(
      outcomes.some((o) => /^rejected:not.writable\b/.test(o)),
      outcomes.join(' '),
    );
    assert.ok(outcomes.includes('ok:'), outcomes.join(' '));
    assert.ok(
      !readFileSync(auditFile, 'utf8').includes(token),
      'the token never reaches the audit log',
    );

    mkdirSync(OUT, { recursive: true });
    const shot = join(OUT, 'dashboard-live.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 20_000, 'a real screenshot');

    // The PLC stops answering: its tags turn stale on the page.
    await sim.close();
    await waitForAsync(
      async () =>
        (await page.textContent(`${row('level')} td.q .qb`)) === 'stale' &&
        (await page.$(`${row('counter')}.stale`)) !== null,
      30_000,
      'the tags shown stale',
      250,
    );
    await page.screenshot({ path: join(OUT, 'dashboard-live-stale.png'), fullPage: true });
    assert.deepEqual(errors, [], 'no script or CSP errors');
  },
);
