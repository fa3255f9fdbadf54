// CONTRACT §10 through the running agent: the outbox at its bound (1 MiB, drop-oldest) while the broker
// is down is a state. /health answers 503 with the `outbox-full` check, /metrics shows
// wmsgw_outbox_full 1, and once the broker is back the WMS gets the `outbox-full` alert (queued while
// disconnected), a heartbeat with `"full"`, and later `outbox-ok`, with /health 200 again: it ends
// by itself once deliveries drain the backlog.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricValue as metric, startGateway } from '../helpers/gateway-fixture.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';

const TAGS = 100;

test(
  'outbox at its bound: outbox-full alert, /health 503 and the metric while it lasts, outbox-ok after',
  { timeout: 150_000 },
  async (t) => {
    const gw = await startGateway(t, {
      id: 'gw-of',
      broker: { persistent: true },
      sims: 1,
      move: false,
      plc: {
        groups: [
          {
            intervalMs: 20,
            tags: Array.from({ length: TAGS }, (_, i) => ({
              name: `t${i}`,
              area: 'holding',
              address: i,
              type: 'uint16',
            })),
          },
        ],
      },
      wms: {
        reconnect: { minMs: 100, maxMs: 500 },
        heartbeatSeconds: 1,
        // The smallest bound: ~1,000 messages of 100 changed values fill it in a few seconds.
        outbox: { maxBytes: '1MiB', segmentBytes: '64KiB', policy: 'drop-oldest' },
      },
      extra: {
        // The machine is shared and loaded: CPU and event-loop lag must not decide /health here.
        health: {
          intervalSeconds: 1,
          cpu: { warn: 100, critical: 100 },
          eventLoopLagMs: { warn: 60_000, critical: 60_000 },
        },
      },
      collectOpts: { clientId: 'e2e-of', clean: false },
      http: true,
    });
    const { broker, sub, sims, http } = gw;
    // Every register changes every 10 ms: every poll is a message with all 100 values.
    const regs = sims[0]!.registers(1, 'holding');
    let n = 0;
    const mover = setInterval(() => {
      n = (n + 1) & 0x7fff;
      for (let i = 0; i < TAGS; i++) regs[i] = (n + i) & 0xffff;
    }, 10);
    t.after(() => clearInterval(mover));
    const waitAsync = (cond: () => Promise<boolean>, ms: number, what: string) =>
      waitForAsync(cond, ms, what, 200);
    let last = '';
    const health = async (status: number, full: boolean) => {
      const h = await http('/health');
      last = `${h.status} ${h.text}`;
      return h.status === status && /"name":"outbox-full"/.test(h.text) === full;
    };

    await gw.until(() => gw.seqs('plc-0').length >= 20, 30_000, 'data flowing');
    assert.ok(await health(200, false), `healthy at first: ${last}`);

    await broker.stop();
    await waitAsync(
      () => health(503, true),
      60_000,
      '/health 503 with the outbox-full check',
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${last}`);
    });
    assert.match(last, /"name":"outbox-full","level":"critical","value":"drop-oldest"/);
    assert.equal(metric((await http('/metrics')).text, 'wmsgw_outbox_full'), 1);
    // The drop counter is sampled (core metrics), not set at scrape time: wait for its next sample.
    await waitAsync(
      async () => metric((await http('/metrics')).text, 'wmsgw_outbox_dropped_total') > 0,
      20_000,
      'drops counted in /metrics',
    );
    const state = JSON.parse((await http('/api/state')).text) as {
      outbox: { full?: { policy: string; dropped: number; since: string } };
    };
    assert.equal(state.outbox.full?.policy, 'drop-oldest', '/api/state outbox.full');
    assert.ok((state.outbox.full?.dropped ?? 0) > 0);
    // Still full a while later: the outage goes on, so the bound keeps costing readings.
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(await health(503, true), `still failing during the outage: ${last}`);

    await broker.start();
    const alert = (code: string) => (msg: { topic: string; payload: Buffer }) =>
      msg.topic.endsWith('/alerts') &&
      (JSON.parse(msg.payload.toString()) as { code?: string }).code === code;
    const fullAlert = await sub.waitFor(alert('outbox-full'), 30_000, 'alert outbox-full');
    const a = JSON.parse(fullAlert.payload.toString()) as {
      level: string;
      reason?: string;
      dropped?: number;
    };
    assert.equal(a.level, 'critical');
    assert.equal(a.reason, 'drop-oldest');
    assert.ok((a.dropped ?? 0) > 0);
    assert.ok(
      !sub.messages.some(alert('outbox.drop-oldest')),
      'the bound is alerted as outbox-full only',
    );
    await sub.waitFor(
      (msg) =>
        msg.topic.endsWith('/heartbeat') &&
        (JSON.parse(msg.payload.toString()) as { outbox?: { full?: string } }).outbox?.full ===
          'drop-oldest',
      30_000,
      'a heartbeat with outbox.full',
    );
    // The backlog drains and no drop comes for 10 s: the state ends by itself.
    await sub.waitFor(alert('outbox-ok'), 60_000, 'alert outbox-ok');
    await waitAsync(() => health(200, false), 20_000, '/health 200 again').catch((e: Error) => {
      throw new Error(`${e.message}: ${last}`);
    });
    assert.equal(metric((await http('/metrics')).text, 'wmsgw_outbox_full'), 0);
    const before = gw.maxSeq('plc-0');
    await waitFor(() => gw.maxSeq('plc-0') >= before + 20, 30_000, 'data flowing again');
  },
);
