// The write path: PlcPoller.write() with every type and byte order, checked by an independent
// modbus-serial read; FC16 merging, FC15/FC5 coils, bit read-modify-write, commands ahead of polls,
// typed rejections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ModbusRTU, type ModbusRTUClient } from '../../plc/driver/modbus-serial.js';
import { isModbusExceptionError, isModbusConnectionError } from '../../plc/driver/errors.js';
import { isCodecError } from '../../plc/codec/codec.js';
import { isTagNotWritableError, isUnknownTagError } from '../../plc/poller/errors.js';
import { PlcPoller, type PlcReading } from '../../plc/poller/plc-poller.js';
import { startSimulator, type Simulator } from '../../plc/simulator/simulator.js';
import { nextEvents, rawWords, silentLogger, sleep, tcpPlc } from './plc-fixtures.js';

const ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
const VALUES: [string, number | string, number | bigint][] = [
  // type, value commanded, raw value expected in the registers
  ['int16', -1234, -1234],
  ['uint16', 54321, 54321],
  ['int32', -123456789, -123456789],
  ['uint32', 3_000_000_000, 3_000_000_000],
  ['int64', -1234567890123, -1234567890123n],
  ['uint64', '18446744073709551615', 18446744073709551615n],
  ['float32', 12.5, 12.5],
  ['float64', -0.1234567890123, -0.1234567890123],
];

let sim: Simulator;
let client: ModbusRTUClient;
let poller: PlcPoller;
const tags: Record<string, unknown>[] = [];
const layout: {
  name: string;
  address: number;
  type: string;
  order: string;
  value: number | string;
  raw: number | bigint;
}[] = [];
let log: { fc: number; address: number; count: number }[] = [];

before(async () => {
  sim = await startSimulator({ map: { units: [{ id: 1, sizes: { holding: 2000, coil: 100 } }] } });
  sim.onRequest((_u, fc, address, count) => log.push({ fc, address, count }));
  let addr = 100;
  for (const order of ORDERS)
    for (const [type, value, raw] of VALUES) {
      const name = `${type}_${order}`;
      const width = rawWords(type, order, raw).length;
      tags.push({ name, area: 'holding', address: addr, type, byteOrder: order, writable: true });
      layout.push({ name, address: addr, type, order, value, raw });
      addr += width + 2; // gaps: never merged across
    }
  tags.push(
    { name: 'm0', area: 'holding', address: 500, type: 'int16', writable: true },
    {
      name: 'm1',
      area: 'holding',
      address: 501,
      type: 'float32',
      byteOrder: 'CDAB',
      writable: true,
    },
    { name: 'm2', area: 'holding', address: 503, type: 'uint16', writable: true },
    {
      name: 'label',
      area: 'holding',
      address: 510,
      type: 'string',
      length: 4,
      byteOrder: 'BADC',
      writable: true,
    },
    { name: 'flag2', area: 'holding', address: 520, type: 'bit', bit: 2, writable: true },
    { name: 'flag9', area: 'holding', address: 520, type: 'bit', bit: 9, writable: true },
    { name: 'c10', area: 'coil', address: 10, type: 'bool', writable: true },
    { name: 'c11', area: 'coil', address: 11, type: 'bool', writable: true },
    { name: 'c20', area: 'coil', address: 20, type: 'bool', writable: true },
    {
      name: 'limited',
      area: 'holding',
      address: 530,
      type: 'int16',
      writable: true,
      min: 0,
      max: 100,
    },
    { name: 'readonly', area: 'holding', address: 540, type: 'int16' },
    { name: 'forbidden', area: 'holding', address: 1999, type: 'int16', writable: true },
  );
  poller = new PlcPoller(tcpPlc('writer', sim.port, [{ intervalMs: 200, tags }]), {
    logger: silentLogger,
  });
  poller.start();
  await nextEvents<PlcReading>(poller, 'reading', 1, 3000);
  client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port: sim.port });
  client.setID(1);
  client.setTimeout(1000);
});

after(async () => {
  await poller.stop();
  await new Promise<void>((r) => client.close(() => r()));
  await sim.close();
});

test(
  'every type in every byte order lands in the registers as the PLC expects',
  { timeout: 10_000 },
  async () => {
    for (const l of layout) {
      const res = await poller.write({ [l.name]: l.value }, { readBack: true });
      const want = rawWords(l.type, l.order, l.raw);
      const got = (await client.readHoldingRegisters(l.address, want.length)).data;
      assert.deepEqual(got, want, `${l.name}: registers`);
      assert.deepEqual(
        res.values?.[l.name],
        l.type === 'int64' ? Number(l.raw) : l.value,
        `${l.name}: read back`,
      );
    }
    await poller.write({ label: 'XY-7' });
    // BADC swaps the two characters of each register: "XY" → 0x5958, "-7" → 0x372d
    assert.deepEqual((await client.readHoldingRegisters(510, 4)).data, [0x5958, 0x372d, 0, 0]);
  },
);

test('adjacent registers merge into one FC16; one register is FC6', { timeout: 5000 }, async () => {
  log = [];
  await poller.write({ m0: -1, m1: 1.25, m2: 7 });
  const writes = log.filter((r) => r.fc === 16 || r.fc === 6);
  assert.deepEqual(writes, [{ fc: 16, address: 500, count: 4 }]);
  assert.deepEqual((await client.readHoldingRegisters(500, 4)).data, [0xffff, 0x0000, 0x3fa0, 7]);
  log = [];
  await poller.write({ m2: 8 });
  assert.deepEqual(
    log.filter((r) => r.fc === 16 || r.fc === 6),
    [{ fc: 6, address: 503, count: 1 }],
  );
});

test('coils: adjacent ones in one FC15, a single one with FC5', { timeout: 5000 }, async () => {
  log = [];
  await poller.write({ c10: true, c11: true });
  await poller.write({ c20: 1 });
  assert.deepEqual(
    log.filter((r) => r.fc === 15 || r.fc === 5),
    [
      { fc: 15, address: 10, count: 2 },
      { fc: 5, address: 20, count: 1 },
    ],
  );
  assert.deepEqual((await client.readCoils(10, 11)).data.slice(0, 11), [
    true,
    true,
    false,
    false,
    false,
    false,
    false,
    false,
    false,
    false,
    true,
  ]);
});

test('bit tags: read-modify-write keeps the other 15 bits', { timeout: 5000 }, async () => {
  await client.writeRegister(520, 0x0f00);
  log = [];
  await poller.write({ flag2: true });
  const rmw = log.filter((r) => r.address === 520);
  assert.deepEqual(
    rmw.map((r) => r.fc),
    [3, 6],
  ); // read the register, write it back with one bit changed
  assert.deepEqual((await client.readHoldingRegisters(520, 1)).data, [0x0f04]);
  await poller.write({ flag9: false });
  assert.deepEqual((await client.readHoldingRegisters(520, 1)).data, [0x0d04]);
});

test(
  'typed rejections: unknown tag, not writable, bad value, limit, Modbus exception',
  { timeout: 5000 },
  async () => {
    await assert.rejects(poller.write({ nope: 1 }), isUnknownTagError);
    await assert.rejects(poller.write({ readonly: 1 }), isTagNotWritableError);
    await assert.rejects(poller.write({ m0: 'abc' }), isCodecError);
    await assert.rejects(poller.write({ m0: 40000 }), isCodecError);
    await assert.rejects(
      poller.write({ limited: 101 }),
      (e) => isCodecError(e) && e.kind === 'limit',
    );
    const f = sim.setFault({ fc: 6, from: 1999, to: 1999, action: 'exception', code: 4 });
    await assert.rejects(
      poller.write({ forbidden: 1 }),
      (e) => isModbusExceptionError(e) && e.code === 'server-device-failure',
    );
    sim.clearFault(f);
    await assert.rejects(poller.read(['nope']), isUnknownTagError);
    assert.deepEqual(await poller.read(['m2', 'c20']), { m2: 8, c20: true });
  },
);

test('commands run ahead of waiting polls', { timeout: 15_000 }, async () => {
  const s = await startSimulator({ map: { units: [{ id: 1 }] } });
  s.setFault({ fc: 3, action: 'delay', ms: 40 });
  const spread = (prefix: string) =>
    [0, 200, 400].map((a, i) => ({
      name: `${prefix}${i}`,
      area: 'holding',
      address: a + (prefix === 'b' ? 50 : 0),
      type: 'uint16',
    }));
  const p = new PlcPoller(
    tcpPlc(
      'busy',
      s.port,
      [
        { intervalMs: 50, tags: spread('a') },
        {
          intervalMs: 50,
          tags: [
            ...spread('b'),
            { name: 'sp', area: 'holding', address: 900, type: 'int16', writable: true },
          ],
        },
      ],
      { timeoutMs: 500, maxGap: 0 },
    ),
    { logger: silentLogger },
  );
  const order: string[] = [];
  s.onRequest((_u, fc) => order.push(fc === 3 ? 'read' : 'write'));
  try {
    p.start();
    await sleep(300); // both groups now take turns: 3 delayed reads (120 ms) per cycle, ticks every 50 ms
    const deadline = performance.now() + 3000;
    while (p.stats().queued < 1 && performance.now() < deadline) await sleep(1);
    assert.ok(p.stats().queued >= 1, 'a poll cycle is waiting');
    order.length = 0;
    await p.write({ sp: 5 }); // issued while a cycle runs and another waits
    const readsBefore = order.indexOf('write');
    assert.ok(
      readsBefore >= 0 && readsBefore <= 3,
      `reads before the write: ${readsBefore} (only the running cycle)`,
    );
    assert.ok(p.stats().overruns > 0);
  } finally {
    await p.stop();
    await s.close();
  }
});

test('a command to a disconnected PLC fails at once', { timeout: 5000 }, async () => {
  const p = new PlcPoller(
    tcpPlc('gone', 1, [
      {
        intervalMs: 100,
        tags: [{ name: 'x', area: 'holding', address: 0, type: 'int16', writable: true }],
      },
    ]),
    { logger: silentLogger },
  );
  p.start();
  try {
    await nextEvents<PlcReading>(p, 'reading', 1, 3000);
    const t0 = performance.now();
    await assert.rejects(p.write({ x: 1 }), isModbusConnectionError);
    assert.ok(performance.now() - t0 < 50);
  } finally {
    await p.stop();
  }
});
