// A preloaded image's first boot on a site with no network yet (docs/fleet.md, "Offline first boot"):
// the agent starts with its broker unreachable, polls, keeps every reading in the outbox, reports the
// link down on /health and /metrics; when the broker appears it announces itself (retained status)
// and delivers everything from seq 1, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../helpers/ports.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';
import { collectMessages, onTeardown, startGateway } from '../helpers/gateway-fixture.js';
import { gapsAndDisorder } from '../link/collector.js';

test(
  'first boot with no broker reachable: polls, buffers, and announces itself when the link comes',
  { timeout: 120_000 },
  async (t) => {
    const brokerPort = await freePort(); // nothing listens here until the "network" arrives
    // Every poll sees a new value (the fixture moves the counter), so every poll is a data message.
    const gw = await startGateway(t, {
      id: 'gw-first',
      broker: false,
      sims: 1,
      plcIds: ['line-1'],
      wms: { urls: [`mqtt://127.0.0.1:${brokerPort}`], reconnect: { minMs: 100, maxMs: 1000 } },
      http: true,
    });
    const http = `http://127.0.0.1:${gw.httpPort}`;

    // Offline: readings pile up on disk and the link is reported down, never "no data".
    let metrics = '';
    const gauge = (name: string) =>
      Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    await waitForAsync(
      async () => {
        metrics = await (await fetch(`${http}/metrics`)).text();
        return gauge('wmsgw_outbox_messages') >= 20;
      },
      30_000,
      '20 readings buffered while offline',
      200,
    );
    assert.equal(gauge('wmsgw_wms_connected'), 0, 'the link is reported down, not absent');
    assert.equal(gauge('wmsgw_plc_connected'), 1, 'the PLC is polled while offline');
    const health = (await (await fetch(`${http}/health`)).json()) as {
      checks: { name: string; level: string }[];
    };
    const wmsCheck = health.checks.find((c) => c.name === 'wms');
    assert.ok(
      wmsCheck && wmsCheck.level !== 'ok',
      `wms check while offline: ${JSON.stringify(wmsCheck)}`,
    );
    const buffered = gauge('wmsgw_outbox_messages');

    // The network arrives. The WMS side (broker + subscriber) is up first, then the gateway's route
    // to it opens: a loopback relay on the configured address, so no reading can slip past the
    // subscriber before it has subscribed.
    const broker = await startMosquitto();
    onTeardown(t, () => broker.stop());
    const sub = await collectMessages(t, broker.url, 'wms/acme/gw-first/#', {
      clientId: 'first-boot',
    });
    const relay = await openRelay(brokerPort, broker.port);
    onTeardown(t, () => relay.close());
    const seqs = () => sub.seqs.get('line-1') ?? [];
    await waitFor(
      () => seqs().length > buffered + 10,
      60_000,
      `the ${buffered} buffered readings and new ones delivered`,
    );
    assert.deepEqual(gapsAndDisorder(seqs(), 1), [], 'every seq from 1, in order');
    assert.equal(Math.min(...seqs()), 1, 'the first reading taken offline arrives');
    const status = sub.messages.find((m) => m.topic === 'wms/acme/gw-first/status');
    assert.ok(status, 'the gateway announced itself');
    assert.equal((JSON.parse(status.payload.toString()) as { state: string }).state, 'online');
  },
);

/** A TCP relay 127.0.0.1:from -> 127.0.0.1:to: "the network" between the gateway and its broker. */
async function openRelay(from: number, to: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((down) => {
    const up = connect(to, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((resolve) => server.listen(from, '127.0.0.1', resolve));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
