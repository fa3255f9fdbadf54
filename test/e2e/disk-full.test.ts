// Issue 10 through the whole agent: its data dir on a small tmpfs the test mounts, the broker down, the
// disk filled. The agent stays up (its log file on the same full disk), reports it (/health 503,
// dropped counted in /metrics and the heartbeat, alert disk-full), resumes by itself when space
// returns, and a kill -9 while writes fail loses nothing it accepted: the WMS sees every seq, no gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ChildProcess } from 'node:child_process';
import { spawnCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { fillUp, mountTmpfs, tmpfsUnavailable } from '../helpers/tmpfs.js';
import { freePort } from '../helpers/ports.js';
import { startSimulator } from '../../plc/simulator/simulator.js';
import { collect, gapsAndDisorder, persistentBroker } from '../link/collector.js';
import { sleep, waitFor } from '../helpers/wait.js';

const skip = tmpfsUnavailable();

async function getText(url: string): Promise<{ status: number; text: string }> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return { status: r.status, text: await r.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function waitAsync(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

test(
  'a full disk while the broker is down: agent up, reported, resumes; kill -9 during failing writes loses nothing',
  { timeout: 180_000, skip },
  async (t) => {
    const fs = mountTmpfs(8 * 1024 ** 2);
    const { broker, cleanup } = await persistentBroker();
    const sim = await startSimulator({ port: 0 });
    const dir = tmpDir();
    const port = await freePort();
    const cfg = join(dir.path, 'gateway.yaml');
    writeFileSync(
      cfg,
      stringify({
        gateway: { tenant: 'acme', id: 'gw-df' },
        wms: {
          urls: [broker.url],
          reconnect: { minMs: 100, maxMs: 500 },
          heartbeatSeconds: 1,
          // More than the 8 MiB file system holds: reported at start.
          outbox: { maxBytes: '64MiB', segmentBytes: '256KiB' },
        },
        // The machine is shared and loaded: CPU and event-loop lag must not decide /health here.
        health: {
          intervalSeconds: 1,
          cpu: { warn: 100, critical: 100 },
          eventLoopLagMs: { warn: 60_000, critical: 60_000 },
        },
        plcs: [
          {
            id: 'plc-0',
            transport: { type: 'tcp', host: '127.0.0.1', port: sim.port },
            groups: [
              {
                intervalMs: 100,
                tags: [{ name: 'counter', area: 'holding', address: 0, type: 'uint16' }],
              },
            ],
          },
        ],
      }),
    );
    const mover = setInterval(
      () => (sim.registers(1, 'holding')[0] = (sim.registers(1, 'holding')[0]! + 1) & 0xffff),
      50,
    );
    const sub = await collect(broker.url, 'wms/acme/gw-df/#', { clientId: 'e2e-df', clean: false });
    let output = '';
    const start = (): ChildProcess => {
      const c = spawnCli(['run', '--config', cfg, '--data-dir', join(fs.path, 'data')], {
        env: { HTTP_PORT: String(port), LOG_LEVEL: 'info' },
      });
      c.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      c.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      return c;
    };
    let agent = start();
    const filler = join(fs.path, 'filler');
    t.after(async () => {
      clearInterval(mover);
      agent.kill('SIGKILL');
      await sub.close();
      await sim.close();
      await broker.stop();
      cleanup();
      dir.cleanup();
      fs.cleanup();
    });
    const seqs = () => sub.seqs.get('plc-0') ?? [];
    const maxSeq = () => Math.max(0, ...seqs());
    const http = (p: string) => getText(`http://127.0.0.1:${port}${p}`);
    await waitFor(() => seqs().length >= 10, 30_000, 'data flowing');
    assert.match(
      output,
      /outbox.*file system|file system.*outbox/i,
      'the oversized bound is reported',
    );

    // ---- 1: the disk fills while the broker is down; space returns without a restart ----
    await broker.stop();
    await sleep(2000);
    fillUp(filler);
    await waitAsync(
      async () => {
        const h = await http('/health');
        return h.status === 503 && /"name":"outbox-write","level":"critical"/.test(h.text);
      },
      20_000,
      '/health 503 with the outbox-write check',
    );
    await waitAsync(
      async () => {
        const m = (await http('/metrics')).text;
        return (
          metric(m, 'wmsgw_outbox_dropped_total') > 0 &&
          metric(m, 'wmsgw_outbox_write_failing') === 1
        );
      },
      20_000,
      'drops counted in /metrics',
    );
    await sleep(2000);
    assert.equal(agent.exitCode, null, 'the agent is still running');
    assert.match(
      output,
      /log file cannot be written/,
      'logging degraded, did not kill the process',
    );
    unlinkSync(filler);
    let last = '';
    await waitAsync(
      async () => {
        const h = await http('/health');
        last = h.text;
        return h.status === 200 && !h.text.includes('outbox-write');
      },
      20_000,
      '/health back to 200 once space returned',
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${last}\n${output.slice(-3000)}`);
    });
    await broker.start();
    await waitFor(
      () =>
        sub.messages.some((m) => {
          if (!m.topic.endsWith('/heartbeat')) return false;
          const hb = JSON.parse(m.payload.toString()) as { outbox?: { dropped?: number } };
          return (hb.outbox?.dropped ?? 0) > 0;
        }),
      20_000,
      'a heartbeat counting the drops',
    );
    const alerts = sub.messages
      .filter((m) => m.topic.endsWith('/alerts'))
      .map((m) => (JSON.parse(m.payload.toString()) as { code: string }).code);
    assert.ok(alerts.includes('disk-full'), `alert disk-full sent (${alerts.join(', ')})`);
    const before = maxSeq();
    await waitFor(() => maxSeq() >= before + 20, 30_000, 'data flowing again');

    // ---- 2: full again, kill -9 while writes fail, space returns, restart ----
    await broker.stop();
    await sleep(1500);
    fillUp(filler);
    await waitAsync(
      async () => metric((await http('/metrics')).text, 'wmsgw_outbox_write_failing') === 1,
      20_000,
      'writes failing again',
    );
    await sleep(1000); // more failed writes (and their rollbacks)
    agent.kill('SIGKILL');
    await new Promise((r) => agent.once('exit', r));
    unlinkSync(filler);
    agent = start();
    await sleep(2000);
    await broker.start();
    const atRestart = maxSeq();
    await waitFor(() => maxSeq() >= atRestart + 40, 60_000, 'backlog and new data after restart');
    const all = seqs();
    assert.deepEqual(gapsAndDisorder(all, all[0]), [], 'no gap, no disorder');
    assert.equal(new Set(all).size, maxSeq() - all[0]! + 1, 'every seq arrived');
    t.diagnostic(`${all.length} messages, seq ${all[0]}..${maxSeq()}`);
  },
);
