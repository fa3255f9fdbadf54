// Failover between wms.urls, the move back to the first URL, hot reconfigure of the URLs, and a full
// outbox under each policy, all through WmsLink against real mosquitto brokers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wmsSchema } from '../../agent/config/schema.js';
import { createLogger } from '../../platform/logger.js';
import { WmsLink, type Alert } from '../../agent/link/wms-link.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { collect, gapsAndDisorder } from './collector.js';
import { waitFor } from '../helpers/wait.js';

const logger = createLogger({ level: 'silent' });

function makeLink(dataDir: string, wms: Record<string, unknown>) {
  const link = new WmsLink({
    tenant: 't1',
    gatewayId: 'gw1',
    dataDir,
    version: '1.0.0',
    wms: wmsSchema.parse(wms),
    logger,
  });
  const seen: { url: string; at: number }[] = [];
  const alerts: Alert[] = [];
  link.on('connected', ({ url }: { url: string }) => seen.push({ url, at: Date.now() }));
  link.on('alert', (a: Alert) => alerts.push(a));
  return { link, seen, alerts };
}

const produce = (link: WmsLink, n: number, plc = 'plc-a', pad = 0) => {
  for (let i = 0; i < n; i++)
    link.publishData(plc, {
      ts: new Date().toISOString(),
      values: { i, pad: 'x'.repeat(pad) },
      quality: {},
    });
};

test(
  'failover: first URL dead → second within the backoff; first back → moves back',
  { timeout: 30_000 },
  async () => {
    const a = await startMosquitto();
    await a.stop(); // dead, but its port is known
    const b = await startMosquitto();
    const data = tmpDir();
    const { link, seen } = makeLink(data.path, {
      urls: [a.url, b.url],
      reconnect: { minMs: 200, maxMs: 1000, primaryRetrySeconds: 1 },
    });
    try {
      // Counted in attempts, not milliseconds: a loaded CI machine stretches the clock, not the count.
      const failed: string[] = [];
      link.on('attempt-failed', (_err, url) => {
        if (seen.length === 0) failed.push(url);
      });
      await link.start();
      await waitFor(() => seen.length > 0, 10_000, 'connected somewhere');
      assert.equal(seen[0]!.url, b.url);
      assert.deepEqual(failed, [a.url], 'one refused attempt on the dead URL, then the fallback');
      await a.start();
      const subA = await collect(a.url, 'wms/t1/gw1/plc/+/data');
      await waitFor(() => seen.length > 1, 8000, 'moved back to the first URL');
      assert.equal(seen[1]!.url, a.url);
      assert.equal(link.stats().url, a.url);
      produce(link, 5);
      await waitFor(
        () => (subA.seqs.get('plc-a')?.length ?? 0) === 5,
        5000,
        'data on the first URL',
      );
      await subA.close();
    } finally {
      await link.stop();
      await a.stop();
      await b.stop();
      data.cleanup();
    }
  },
);

test(
  'hot reconfigure of the URLs moves the link without a restart, seq continues',
  { timeout: 30_000 },
  async () => {
    const a = await startMosquitto();
    const b = await startMosquitto();
    const data = tmpDir();
    const wms = { urls: [a.url], reconnect: { minMs: 100, maxMs: 1000 } };
    const { link, seen } = makeLink(data.path, wms);
    const subA = await collect(a.url, 'wms/t1/gw1/plc/+/data');
    const subB = await collect(b.url, 'wms/t1/gw1/plc/+/data');
    try {
      await link.start();
      await waitFor(() => seen.length === 1, 5000, 'connected to a');
      produce(link, 10);
      await waitFor(() => (subA.seqs.get('plc-a')?.length ?? 0) === 10, 5000, '10 on a');
      // Acknowledged first: otherwise re-sending the unacknowledged ones to b would be correct (at-least-once).
      await waitFor(() => link.stats().outbox.messages === 0, 5000, 'acknowledged by a');
      await link.reconfigure(wmsSchema.parse({ ...wms, urls: [b.url] }));
      await waitFor(() => seen.length === 2, 5000, 'reconnected to b');
      assert.equal(seen[1]!.url, b.url);
      produce(link, 10);
      await waitFor(() => (subB.seqs.get('plc-a')?.length ?? 0) >= 10, 5000, '10 on b');
      assert.deepEqual(subB.seqs.get('plc-a'), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    } finally {
      await link.stop();
      await subA.close();
      await subB.close();
      await a.stop();
      await b.stop();
      data.cleanup();
    }
  },
);

for (const policy of ['drop-oldest', 'reject-new'] as const) {
  test(
    `a full outbox under ${policy} during an outage: right messages kept, drops counted and alerted`,
    { timeout: 30_000 },
    async () => {
      // The outage: the link points at a dead port; the broker with its subscriber is already up.
      const dead = await startMosquitto();
      await dead.stop();
      const broker = await startMosquitto();
      const sub = await collect(broker.url, 'wms/t1/gw1/plc/+/data');
      const data = tmpDir();
      const wms = {
        urls: [dead.url],
        reconnect: { minMs: 100, maxMs: 300 },
        outbox: { maxBytes: '1MiB', segmentBytes: '64KiB', policy },
      };
      const { link, alerts } = makeLink(data.path, wms);
      try {
        await link.start();
        const total = 8000; // ~2.4 MiB of ~300-byte messages into 1 MiB
        produce(link, total, 'plc-a', 150);
        const st = link.stats();
        assert.ok(st.outbox.dropped > 0 && st.outbox.dropped < total);
        // CONTRACT §10: a drop at the bound is alerted outbox-full, the policy as its reason, and
        // is a state (link stats, hence /health) while it lasts.
        const alert = alerts.find((x) => x.code === 'outbox-full');
        assert.ok(alert, 'the drop is alerted');
        assert.equal(alert.level, 'critical');
        assert.equal(alert.reason, policy);
        assert.equal(st.outbox.full?.policy, policy, 'the outbox-full state in the link stats');
        await link.reconfigure(wmsSchema.parse({ ...wms, urls: [broker.url] }));
        await waitFor(
          () => link.stats().connected && link.stats().outbox.messages === 0,
          10_000,
          'drained',
        );
        await waitFor(
          () => (sub.seqs.get('plc-a')?.length ?? 0) >= total - st.outbox.dropped,
          5000,
          'all kept',
        );
        const got = sub.seqs.get('plc-a')!;
        assert.equal(got.length, total - st.outbox.dropped, 'kept = produced - dropped');
        assert.deepEqual(
          gapsAndDisorder(got, got[0]),
          [],
          'the kept run is contiguous and in order',
        );
        if (policy === 'drop-oldest') assert.equal(got.at(-1), total, 'the newest kept');
        else assert.equal(got[0], 1, 'the oldest kept');
      } finally {
        await link.stop();
        await sub.close();
        await broker.stop();
        data.cleanup();
      }
    },
  );
}
