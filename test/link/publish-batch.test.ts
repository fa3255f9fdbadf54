// Outbox replay in batches: the link's own QoS 1 PUBLISH encoding is byte for byte what mqtt-packet
// (mqtt.js's encoder) makes, and a backlog read back from disk reaches a real mosquitto with every
// message exactly once, in seq order per PLC, gzip content type on MQTT 5, big payloads intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { wmsSchema } from '../../agent/config/schema.js';
import { createLogger } from '../../platform/logger.js';
import { WmsLink } from '../../agent/link/wms-link.js';
import { encodeQos1 } from '../../agent/link/publish-batch.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const logger = createLogger({ level: 'silent' });

test('QoS 1 PUBLISH encoding: the same bytes as mqtt-packet, MQTT 3.1.1 and 5', () => {
  const topics = [
    't',
    'wms/acme/gw-01/plc/conveyor-1/data',
    'wms/ñandú/€/plc/x/data',
    'a'.repeat(300),
  ];
  // Remaining lengths on both sides of the 1-, 2- and 3-byte encodings.
  const sizes = [0, 1, 80, 120, 127, 128, 16_300, 16_383, 16_384, 70_000, 2_097_200];
  let n = 0;
  for (const version of [4, 5] as const)
    for (const topic of topics)
      for (const size of sizes)
        for (const properties of [
          undefined,
          { contentType: 'application/gzip' },
          { contentType: '' },
        ]) {
          const payload = Buffer.alloc(size, size % 251);
          const messageId = 1 + ((n * 7919) % 65_535);
          const ours = encodeQos1({ topic, payload, properties }, messageId, version);
          const packet: mqttPacket.IPublishPacket = {
            cmd: 'publish',
            topic,
            payload,
            qos: 1,
            retain: false,
            dup: false,
            messageId,
          };
          if (version === 5 && properties) packet.properties = properties;
          const theirs = mqttPacket.generate(packet, { protocolVersion: version });
          assert.ok(ours, `encoded: v${version} ${topic.slice(0, 20)} ${size}`);
          assert.ok(
            ours.equals(theirs),
            `same bytes: v${version} topic ${topic.slice(0, 20)} size ${size} ${JSON.stringify(properties)}`,
          );
          n++;
        }
  assert.equal(n, 2 * topics.length * sizes.length * 3);
  // Properties the layout does not write go to mqtt-packet, never silently dropped.
  assert.equal(
    encodeQos1(
      { topic: 't', payload: Buffer.alloc(1), properties: { messageExpiryInterval: 5 } },
      1,
      5,
    ),
    undefined,
  );
  assert.equal(encodeQos1({ topic: '', payload: Buffer.alloc(1) }, 1, 5), undefined);
});

const PLCS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
const PER_PLC = 750;

for (const v of [
  { protocolVersion: 4, compression: 'none' },
  { protocolVersion: 5, compression: 'gzip' },
] as const)
  test(
    `a ${PLCS.length * PER_PLC}-message backlog replayed from disk in batches (MQTT ${v.protocolVersion}, ${v.compression}): every message once, in order`,
    { timeout: 90_000 },
    async () => {
      const broker = await startMosquitto();
      const data = tmpDir();
      const big = 'x'.repeat(20_000); // some packets with a 3-byte remaining length
      const wms = (url: string) =>
        wmsSchema.parse({
          urls: [url],
          reconnect: { minMs: 100, maxMs: 500 },
          protocolVersion: v.protocolVersion,
          compression: v.compression,
          outbox: { inflight: 64, readAheadBytes: 64 * 1024 },
        });
      const make = (url: string) =>
        new WmsLink({
          tenant: 't1',
          gatewayId: 'gw1',
          dataDir: data.path,
          version: 't',
          wms: wms(url),
          logger,
        });
      // The backlog: written while no broker answers, then the link stops (the outbox closes).
      const offline = make(`mqtt://127.0.0.1:${await freePort()}`);
      await offline.start();
      for (let i = 0; i < PER_PLC; i++)
        for (const plc of PLCS)
          offline.publishData(plc, {
            ts: new Date().toISOString(),
            values: { i, ...(i % 250 === 7 && { big }) },
            quality: {},
          });
      assert.equal(offline.stats().outbox.messages, PLCS.length * PER_PLC);
      await offline.stop();

      const got = new Map<string, number[]>();
      let gzipped = 0;
      const sub = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
      sub.on('message', (_t, payload, packet) => {
        if (packet.properties?.contentType === 'application/gzip') {
          gzipped++;
          payload = gunzipSync(payload);
        }
        const m = JSON.parse(payload.toString()) as {
          plc: string;
          seq: number;
          values: { i: number; big?: string };
        };
        assert.equal(m.values.i, m.seq - 1, 'the payload belongs to its seq');
        if (m.values.big !== undefined) assert.equal(m.values.big, big);
        const list = got.get(m.plc) ?? [];
        list.push(m.seq);
        got.set(m.plc, list);
      });
      await new Promise<void>((r) =>
        sub.once('connect', () => sub.subscribe('wms/t1/gw1/plc/+/data', { qos: 1 }, () => r())),
      );
      const link = make(broker.url);
      try {
        await link.start();
        await waitFor(
          () =>
            link.stats().outbox.messages === 0 &&
            [...got.values()].reduce((a, l) => a + l.length, 0) >= PLCS.length * PER_PLC,
          60_000,
          'the backlog delivered',
        );
        for (const plc of PLCS)
          assert.deepEqual(
            got.get(plc),
            Array.from({ length: PER_PLC }, (_, i) => i + 1),
            `${plc}: each seq once, in order`,
          );
        assert.equal(gzipped, v.compression === 'gzip' ? PLCS.length * PER_PLC : 0);
        assert.equal(link.stats().published, PLCS.length * PER_PLC);
      } finally {
        await link.stop();
        await new Promise<void>((r) => sub.end(true, {}, () => r()));
        await broker.stop();
        data.cleanup();
      }
    },
  );
