// The CONTRACT §3 topics the link owns: retained status birth and last will, data payload, heartbeat,
// retained state re-sent on reconnect, events queued while disconnected, inbound size limit, gzip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { wmsSchema } from '../../agent/config/schema.js';
import { createLogger } from '../../platform/logger.js';
import { WmsLink } from '../../agent/link/wms-link.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { collect } from './collector.js';
import { waitFor, waitForAsync } from '../helpers/wait.js';

const logger = createLogger({ level: 'silent' });
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'producer.ts');

function makeLink(dataDir: string, wms: Record<string, unknown>) {
  return new WmsLink({
    tenant: 't1',
    gatewayId: 'gw1',
    dataDir,
    version: '1.2.3',
    wms: wmsSchema.parse({ reconnect: { minMs: 100, maxMs: 500 }, ...wms }),
    logger,
    heartbeat: () => ({ plcs: { 'plc-a': 'connected' }, extra: 1 }),
  });
}

const json = (b: Buffer) => JSON.parse(b.toString()) as Record<string, unknown>;

test(
  'status birth, data payload, heartbeat, retained state re-sent, events queued while down',
  { timeout: 30_000 },
  async () => {
    const broker = await startMosquitto();
    const data = tmpDir();
    const sub = await collect(broker.url, 'wms/t1/gw1/#');
    const wms = { urls: [broker.url], heartbeatSeconds: 1, reconnect: { minMs: 100, maxMs: 500 } };
    const link = makeLink(data.path, wms);
    try {
      link.publishRetained('config/state', { version: 'v1', status: 'applied' });
      await link.start();
      link.publishData('plc-a', {
        ts: '2026-01-01T00:00:00.000Z',
        values: { speed: 1.5 },
        quality: { temp: 'bad' },
      });
      await waitFor(
        () => sub.messages.some((m) => m.topic.endsWith('/heartbeat')),
        5000,
        'a heartbeat',
      );
      const by = (t: string) => sub.messages.filter((m) => m.topic === `wms/t1/gw1/${t}`);
      const status = json(by('status')[0]!.payload);
      assert.equal(status.state, 'online');
      assert.equal(status.version, '1.2.3');
      assert.deepEqual(json(by('plc/plc-a/data')[0]!.payload), {
        tenant: 't1',
        gateway: 'gw1',
        plc: 'plc-a',
        seq: 1,
        ts: '2026-01-01T00:00:00.000Z',
        values: { speed: 1.5 },
        quality: { temp: 'bad' },
      });
      const hb = json(by('heartbeat')[0]!.payload);
      for (const f of ['ts', 'uptime', 'cpu', 'mem', 'disk', 'plcs', 'outbox', 'version'])
        assert.ok(f in hb, `heartbeat.${f}`);
      assert.equal(typeof hb.cpu, 'number');
      assert.equal(typeof hb.disk, 'number');
      assert.deepEqual(hb.plcs, { 'plc-a': 'connected' });
      assert.equal(hb.extra, 1);
      assert.equal(by('config/state').length, 1);

      // An outage (the link pointed at a dead port): an event made while down arrives after it, and the
      // retained state and birth are re-sent on the new connection.
      const dead = await startMosquitto();
      await dead.stop();
      await link.reconfigure(wmsSchema.parse({ ...wms, urls: [dead.url] }));
      await waitFor(() => !link.stats().connected, 5000, 'link down');
      await link.publishEvent('cmd/result', { id: 'c1', status: 'ok' });
      sub.messages.length = 0;
      await link.reconfigure(wmsSchema.parse(wms));
      await waitFor(() => by('cmd/result').length === 1, 10_000, 'queued event delivered');
      assert.equal(by('config/state').length, 1, 'retained state re-sent on reconnect');
      assert.equal(json(by('status')[0]!.payload).state, 'online');
      await waitFor(() => by('alerts').length >= 2, 5000, 'alerts');
      assert.deepEqual(
        by('alerts').map((m) => json(m.payload).code),
        ['wms.connection-lost', 'wms.connection-restored'],
      );
    } finally {
      await link.stop();
      await sub.close();
      await broker.stop();
      data.cleanup();
    }
  },
);

test(
  'kill -9 of the agent: the broker publishes the retained last will {state: offline}',
  { timeout: 30_000 },
  async () => {
    const broker = await startMosquitto();
    const data = tmpDir();
    const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      env: { ...process.env, DATA_DIR: data.path, WMS_URLS: broker.url, PLCS: 'plc-a' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const sub = await collect(broker.url, 'wms/t1/gw1/status');
    try {
      await waitFor(
        () => sub.messages.some((m) => json(m.payload).state === 'online'),
        15_000,
        'online',
      );
      proc.kill('SIGKILL');
      await waitFor(
        () => sub.messages.some((m) => json(m.payload).state === 'offline'),
        10_000,
        'will',
      );
    } finally {
      proc.kill('SIGKILL');
      await sub.close();
      await broker.stop();
      data.cleanup();
    }
  },
);

test(
  'inbound: subscribed topics reach their handler; payloads over maxPayloadBytes are dropped',
  { timeout: 20_000 },
  async () => {
    const broker = await startMosquitto();
    const data = tmpDir();
    const link = makeLink(data.path, { urls: [broker.url], maxPayloadBytes: 2048 });
    const got: Buffer[] = [];
    link.subscribe('cmd', (p) => got.push(p));
    const pub = mqtt.connect(broker.url, { reconnectPeriod: 0 });
    try {
      await link.start();
      await waitFor(() => link.stats().connected, 5000, 'connected');
      // The SUBSCRIBE is in flight right after CONNACK: probe until the link receives one.
      await waitForAsync(
        async () => {
          await pub.publishAsync('wms/t1/gw1/cmd', 'probe', { qos: 1 });
          return got.length > 0;
        },
        10_000,
        'the link subscribed to cmd',
        100,
      );
      await pub.publishAsync('wms/t1/gw1/cmd', Buffer.alloc(4096, 'x'), { qos: 1 });
      await pub.publishAsync('wms/t1/gw1/cmd', 'small', { qos: 1 });
      const commands = () => got.map((b) => b.toString()).filter((c) => c !== 'probe');
      await waitFor(() => commands().length > 0, 5000, 'the small command');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(commands(), ['small']);
    } finally {
      pub.end(true);
      await link.stop();
      await broker.stop();
      data.cleanup();
    }
  },
);

test(
  'compression gzip: payload gzipped, MQTT 5 content type application/gzip',
  { timeout: 20_000 },
  async () => {
    const broker = await startMosquitto();
    const data = tmpDir();
    const sub = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    const got: { payload: Buffer; contentType?: string }[] = [];
    sub.on('message', (_t, payload, packet) =>
      got.push({ payload, contentType: packet.properties?.contentType }),
    );
    await sub.subscribeAsync('wms/t1/gw1/plc/+/data', { qos: 1 });
    const link = makeLink(data.path, { urls: [broker.url], compression: 'gzip' });
    try {
      await link.start();
      link.publishData('plc-a', { ts: '2026-01-01T00:00:00.000Z', values: { n: 1 }, quality: {} });
      await waitFor(() => got.length === 1, 5000, 'gzipped data');
      assert.equal(got[0]!.contentType, 'application/gzip');
      assert.equal(json(gunzipSync(got[0]!.payload)).seq, 1);
    } finally {
      sub.end(true);
      await link.stop();
      await broker.stop();
      data.cleanup();
    }
  },
);
