// Issue 10 through the whole agent: its data dir on a small tmpfs the test mounts, the broker down, the
// disk filled. The agent stays up (its log file on the same full disk), reports it (/health 503,
// dropped counted in /metrics and the heartbeat, alert disk-full), resumes by itself when space
// returns, and a kill -9 while writes fail loses nothing it accepted: the WMS sees every seq, no gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fillUp, mountTmpfs, tmpfsUnavailable } from '../helpers/tmpfs.js';
import { metricValue as metric, onTeardown, startGateway } from '../helpers/gateway-fixture.js';
import { gapsAndDisorder } from '../link/collector.js';
import { sleep, waitFor, waitForAsync } from '../helpers/wait.js';

const skip = tmpfsUnavailable();

test(
  'a full disk while the broker is down: agent up, reported, resumes; kill -9 during failing writes loses nothing',
  { timeout: 180_000, skip },
  async (t) => {
    const fs = mountTmpfs(8 * 1024 ** 2);
    onTeardown(t, fs.cleanup); // first on the stack: unmounted after the agent is gone
    const gw = await startGateway(t, {
      id: 'gw-df',
      broker: { persistent: true },
      sims: 1,
      wms: {
        reconnect: { minMs: 100, maxMs: 500 },
        heartbeatSeconds: 1,
        // More than the 8 MiB file system holds: reported at start.
        outbox: { maxBytes: '64MiB', segmentBytes: '256KiB' },
      },
      extra: {
        // The machine is shared and loaded: CPU and event-loop lag must not decide /health here.
        health: {
          intervalSeconds: 1,
          cpu: { warn: 100, critical: 100 },
          eventLoopLagMs: { warn: 60_000, critical: 60_000 },
        },
      },
      collectOpts: { clientId: 'e2e-df', clean: false },
      dataDir: join(fs.path, 'data'),
      http: true,
      env: { LOG_LEVEL: 'info' },
    });
    const { broker, sub, agent } = gw;
    const output = () => agent.output();
    const filler = join(fs.path, 'filler');
    const http = gw.http;
    const waitAsync = (cond: () => Promise<boolean>, ms: number, what: string) =>
      waitForAsync(cond, ms, what, 200);
    const seqs = () => gw.seqs('plc-0');
    const maxSeq = () => gw.maxSeq('plc-0');
    await waitFor(() => seqs().length >= 10, 30_000, 'data flowing');
    assert.match(
      output(),
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
    // The log file on the same full disk: the agent says so and keeps running.
    await agent.waitForOutput(/log file cannot be written/, 20_000);
    assert.equal(agent.exitCode(), null, 'the agent is still running');
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
      throw new Error(`${e.message}: ${last}\n${output().slice(-3000)}`);
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
    await agent.kill9();
    unlinkSync(filler);
    await agent.restart();
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
