// Moving back to the primary broker in the middle of a replay: the link first lets the fallback
// acknowledge what is in flight on it, so no message is sent to both brokers, and none is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import mqtt from 'mqtt';
import { wmsSchema } from '../../agent/config/schema.js';
import { createLogger } from '../../platform/logger.js';
import { WmsLink } from '../../agent/link/wms-link.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const logger = createLogger({ level: 'silent' });
const PLCS = ['p0', 'p1', 'p2', 'p3'];
const PER_PLC = 15_000;
const TOTAL = PLCS.length * PER_PLC;

/** Every seq received at url per PLC, in arrival order. */
async function counter(url: string) {
  const got = new Map<string, number[]>();
  let n = 0;
  const c = mqtt.connect(url, { reconnectPeriod: 0 });
  c.on('message', (_t, payload) => {
    const m = JSON.parse(payload.toString()) as { plc: string; seq: number };
    const l = got.get(m.plc) ?? [];
    l.push(m.seq);
    got.set(m.plc, l);
    n++;
  });
  await new Promise<void>((r) =>
    c.once('connect', () => c.subscribe('wms/t1/gw1/plc/+/data', { qos: 1 }, () => r())),
  );
  return {
    got,
    count: () => n,
    close: () => new Promise<void>((r) => c.end(true, {}, () => r())),
  };
}

/** A TCP gate in front of a broker: refuses connections until opened (the primary "comes back"). */
async function gate(target: string) {
  const port = Number(new URL(target).port);
  const socks = new Set<Socket>();
  let open = false;
  const server = createServer((s) => {
    if (!open) return s.destroy();
    const up = connect(port, '127.0.0.1');
    socks.add(s).add(up);
    s.pipe(up).pipe(s);
    const end = () => (s.destroy(), up.destroy());
    s.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port: own } = server.address() as { port: number };
  return {
    url: `mqtt://127.0.0.1:${own}`,
    open: () => (open = true),
    close: () => {
      for (const s of socks) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test(
  'moving back to the primary mid-replay: in-flight data acknowledged by the fallback first, nothing sent twice, nothing lost',
  { timeout: 120_000 },
  async () => {
    const primary = await startMosquitto();
    const door = await gate(primary.url); // the primary is unreachable until the door opens
    const fallback = await startMosquitto();
    const data = tmpDir();
    const wms = (urls: string[]) =>
      wmsSchema.parse({
        urls,
        reconnect: { minMs: 100, maxMs: 500, primaryRetrySeconds: 1 },
        outbox: { inflight: 64 },
      });
    const make = (urls: string[]) =>
      new WmsLink({
        tenant: 't1',
        gatewayId: 'gw1',
        dataDir: data.path,
        version: 't',
        wms: wms(urls),
        logger,
      });
    // A backlog on disk, written while no broker answers.
    const offline = make([`mqtt://127.0.0.1:${await freePort()}`]);
    await offline.start();
    for (let i = 0; i < PER_PLC; i++)
      for (const plc of PLCS)
        offline.publishData(plc, { ts: new Date().toISOString(), values: { i }, quality: {} });
    await offline.stop();

    const onFallback = await counter(fallback.url);
    const onPrimary = await counter(primary.url);
    const link = make([door.url, fallback.url]);
    const urls: string[] = [];
    link.on('connected', ({ url }: { url: string }) => urls.push(url));
    try {
      await link.start();
      await waitFor(() => onFallback.count() > 0, 30_000, 'replay started on the fallback');
      door.open();
      await waitFor(() => urls.includes(door.url), 30_000, 'the link moved to the primary');
      const p = onPrimary;
      await waitFor(() => link.stats().outbox.messages === 0, 90_000, 'the backlog delivered');
      await waitFor(
        () => onFallback.count() + p.count() >= TOTAL,
        10_000,
        'every message received',
      );
      // The move happened mid-replay (some on each broker), when the window is full: without waiting
      // for the fallback's PUBACKs, up to 64 messages would reach both brokers.
      assert.ok(
        onFallback.count() > 0 && p.count() > 0,
        `${onFallback.count()} on the fallback, ${p.count()} on the primary`,
      );
      for (const plc of PLCS) {
        const all = [...(onFallback.got.get(plc) ?? []), ...(p.got.get(plc) ?? [])];
        assert.equal(
          all.length,
          PER_PLC,
          `${plc}: ${all.length} received, each of ${PER_PLC} once`,
        );
        assert.deepEqual(
          all,
          Array.from({ length: PER_PLC }, (_, i) => i + 1),
          `${plc}: in order across the move, no gap, no repeat`,
        );
      }
    } finally {
      await link.stop();
      await onFallback.close();
      await onPrimary.close();
      await door.close();
      await primary.stop();
      await fallback.stop();
      data.cleanup();
    }
  },
);
