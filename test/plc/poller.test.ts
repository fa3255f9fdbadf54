// PlcPoller against the real simulator over TCP: decoding of every type and byte order, drift-free
// groups, bad Modbus answers marked per tag by name, reconnect, and the PLC state transitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlcPoller, type PlcReading, type PlcStatus } from '../../plc/poller/plc-poller.js';
import { startSimulator } from '../../plc/simulator/simulator.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { nextEvents, rawWords, silentLogger, tcpPlc, timing } from './plc-fixtures.js';

const ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
const NUMERIC: [string, number | bigint, number | string][] = [
  // type, raw value written, value expected from the poller
  ['int16', -1234, -1234],
  ['uint16', 54321, 54321],
  ['int32', -123456789, -123456789],
  ['uint32', 3_000_000_000, 3_000_000_000],
  ['int64', -1234567890123n, -1234567890123],
  ['uint64', 18446744073709551615n, '18446744073709551615'],
  ['float32', 12.5, 12.5],
  ['float64', -0.1234567890123, -0.1234567890123],
];

test('decodes every type in every byte order', { timeout: 10_000 }, async () => {
  const sim = await startSimulator({ map: { units: [{ id: 1 }] } });
  const holding = sim.registers(1, 'holding');
  const tags: Record<string, unknown>[] = [];
  const expected: Record<string, unknown> = {};
  let addr = 0;
  for (const order of ORDERS) {
    for (const [type, raw, want] of NUMERIC) {
      const words = rawWords(type, order, raw);
      holding.set(words, addr);
      const name = `${type}_${order}`;
      tags.push({ name, area: 'holding', address: addr, type, byteOrder: order });
      expected[name] = want;
      addr += words.length + 1; // a one-register gap between tags
    }
    // string "AB-12": 2 characters per register, bytes swapped for BADC/DCBA
    const swap = order === 'BADC' || order === 'DCBA';
    const chars = [0x41, 0x42, 0x2d, 0x31, 0x32, 0x00];
    for (let i = 0; i < 3; i++)
      holding[addr + i] = swap
        ? (chars[2 * i + 1]! << 8) | chars[2 * i]!
        : (chars[2 * i]! << 8) | chars[2 * i + 1]!;
    tags.push({
      name: `string_${order}`,
      area: 'holding',
      address: addr,
      type: 'string',
      length: 3,
      byteOrder: order,
    });
    expected[`string_${order}`] = 'AB-12';
    addr += 4;
    // bit 5 of 0x0020 (ABCD/CDAB) or of its byte-swapped 0x2000 (BADC/DCBA)
    holding[addr] = swap ? 0x2000 : 0x0020;
    tags.push({
      name: `bit5_${order}`,
      area: 'holding',
      address: addr,
      type: 'bit',
      bit: 5,
      byteOrder: order,
    });
    tags.push({
      name: `bit4_${order}`,
      area: 'holding',
      address: addr,
      type: 'bit',
      bit: 4,
      byteOrder: order,
    });
    expected[`bit5_${order}`] = true;
    expected[`bit4_${order}`] = false;
    addr += 2;
  }
  // scale and offset: raw 1234 * 0.1 + 5 = 128.4
  holding[addr] = 1234;
  tags.push({
    name: 'scaled',
    area: 'holding',
    address: addr,
    type: 'uint16',
    scale: 0.1,
    offset: 5,
  });
  expected.scaled = 128.4;
  sim.registers(1, 'input')[7] = 0xfff6;
  tags.push({ name: 'input_i16', area: 'input', address: 7, type: 'int16' });
  expected.input_i16 = -10;
  sim.registers(1, 'coil')[3] = 1;
  tags.push(
    { name: 'coil3', area: 'coil', address: 3, type: 'bool' },
    { name: 'coil4', area: 'coil', address: 4, type: 'bool' },
  );
  expected.coil3 = true;
  expected.coil4 = false;
  sim.registers(1, 'discrete')[9] = 1;
  tags.push({ name: 'di9', area: 'discrete', address: 9, type: 'bool' });
  expected.di9 = true;

  const poller = new PlcPoller(tcpPlc('all-types', sim.port, [{ intervalMs: 100, tags }]), {
    logger: silentLogger,
  });
  try {
    poller.start();
    const [r] = await nextEvents<PlcReading>(
      poller,
      'reading',
      1,
      5000,
      (x) => Object.keys(x.values).length > 0,
    );
    assert.deepEqual(r!.errors, {});
    for (const [name, want] of Object.entries(expected)) {
      const got = r!.values[name];
      if (name === 'scaled') assert.ok(Math.abs((got as number) - 128.4) < 1e-9, `${name}: ${got}`);
      else assert.deepEqual(got, want, name);
    }
    assert.equal(poller.status().state, 'connected');
    assert.match(r!.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(r!.plc, 'all-types');
  } finally {
    await poller.stop();
    await sim.close();
  }
});

test('groups poll at their own intervals without drift', { timeout: 15_000 }, async () => {
  const sim = await startSimulator({ map: { units: [{ id: 1 }] } });
  const plc = tcpPlc('timing', sim.port, [
    { intervalMs: 40, tags: [{ name: 'a', area: 'holding', address: 0, type: 'uint16' }] },
    { intervalMs: 130, tags: [{ name: 'b', area: 'holding', address: 10, type: 'uint16' }] },
  ]);
  const poller = new PlcPoller(plc, { logger: silentLogger });
  const times: number[][] = [[], []];
  poller.on('reading', (r: PlcReading) => times[r.group]!.push(performance.now() - r.durationMs));
  try {
    poller.start();
    // Until both groups have run about 2.6 s' worth of ticks (longer on a busy machine).
    await waitFor(
      () => times[0]!.length >= 2600 / 40 && times[1]!.length >= 2600 / 130,
      12_000,
      'readings of both groups',
    );
    for (const [gi, every] of [
      [0, 40],
      [1, 130],
    ] as const) {
      const t = timing(times[gi]!, every);
      const msg = `group ${gi}: ${JSON.stringify(t)}`;
      // Margins for a loaded 2-core machine: a scheduler that waited for the other group, or for the
      // previous answer plus the interval, would be off by tens of ms per tick, not a few.
      assert.ok(t.medianDev < 15, msg);
      // Drift-free: readings stay on the grid start + k*interval however long it runs.
      assert.ok(t.drift < 10, msg); // a now+interval scheduler drifts ~1-2 ms per tick
    }
  } finally {
    await poller.stop();
    await sim.close();
  }
});

test(
  'bad answers mark their tags by name, reconnect after timeout/short frame, never crash',
  { timeout: 15_000 },
  async () => {
    const sim = await startSimulator({
      map: {
        units: [{ id: 1, registers: [{ area: 'holding', address: 0, type: 'int16', value: 7 }] }],
      },
    });
    const plc = tcpPlc('faulty', sim.port, [
      {
        intervalMs: 50,
        tags: [
          { name: 'ok', area: 'holding', address: 0, type: 'int16' },
          { name: 'refused', area: 'holding', address: 500, type: 'int16' },
          { name: 'later', area: 'input', address: 0, type: 'int16' },
        ],
      },
    ]);
    const poller = new PlcPoller(plc, { logger: silentLogger });
    const states: PlcStatus[] = [];
    poller.on('status', (s: PlcStatus) => states.push(s));
    const withError = (code: string) => (r: PlcReading) => Object.values(r.errors).includes(code);
    try {
      poller.start();
      await nextEvents<PlcReading>(poller, 'reading', 1, 3000, (r) => r.values.ok === 7);

      // A Modbus exception: only that block's tags, by name; the link stays up (degraded).
      const fx = sim.setFault({
        area: 'holding',
        from: 500,
        to: 500,
        action: 'exception',
        code: 2,
      });
      const [ex] = await nextEvents<PlcReading>(
        poller,
        'reading',
        1,
        3000,
        withError('illegal-data-address'),
      );
      assert.deepEqual(ex!.errors, { refused: 'illegal-data-address' });
      assert.equal(ex!.values.ok, 7);
      assert.equal(ex!.values.later, 0);
      assert.equal(poller.status().state, 'degraded');
      assert.equal(poller.status().error, 'illegal-data-address');
      sim.clearFault(fx);
      await nextEvents<PlcReading>(
        poller,
        'reading',
        1,
        3000,
        (r) => Object.keys(r.errors).length === 0,
      );
      assert.equal(poller.status().state, 'connected');

      // A timeout: the tags get timeout, the connection is dropped and made again.
      const reconnects = poller.stats().reconnects;
      sim.setFault({ area: 'holding', from: 0, to: 0, action: 'silence', times: 1 });
      const [to] = await nextEvents<PlcReading>(poller, 'reading', 1, 3000, withError('timeout'));
      assert.equal(to!.errors.ok, 'timeout');
      assert.equal(to!.errors.later, 'timeout'); // the rest of the cycle is not left waiting
      await nextEvents<PlcReading>(
        poller,
        'reading',
        1,
        3000,
        (r) => r.values.ok === 7 && Object.keys(r.errors).length === 0,
      );
      assert.ok(poller.stats().reconnects > reconnects);

      // A short frame: bad-response, reconnect, recovery.
      sim.setFault({ area: 'input', action: 'short', times: 1 });
      const [sh] = await nextEvents<PlcReading>(
        poller,
        'reading',
        1,
        3000,
        withError('bad-response'),
      );
      assert.equal(sh!.errors.later, 'bad-response');
      await nextEvents<PlcReading>(
        poller,
        'reading',
        1,
        3000,
        (r) => Object.keys(r.errors).length === 0,
      );

      // The PLC closing the connection: disconnected, then back.
      sim.setFault({ area: 'input', action: 'drop', times: 1 });
      await nextEvents<PlcReading>(poller, 'reading', 1, 3000, withError('disconnected'));
      await nextEvents<PlcReading>(
        poller,
        'reading',
        1,
        3000,
        (r) => Object.keys(r.errors).length === 0,
      );
      assert.deepEqual([...new Set(states.map((s) => s.state))].sort(), [
        'connected',
        'degraded',
        'disconnected',
      ]);
    } finally {
      await poller.stop();
      await sim.close();
    }
  },
);

test(
  'state: disconnected while nothing listens, connected when the PLC comes, disconnected when it goes',
  { timeout: 15_000 },
  async () => {
    const port = await freePort();
    const plc = tcpPlc('late', port, [
      { intervalMs: 50, tags: [{ name: 'x', area: 'holding', address: 0, type: 'uint16' }] },
    ]);
    const poller = new PlcPoller(plc, { logger: silentLogger });
    const states: string[] = [];
    poller.on('status', (s: PlcStatus) => states.push(s.state));
    poller.start();
    let sim;
    try {
      const [r] = await nextEvents<PlcReading>(poller, 'reading', 1, 3000);
      assert.equal(r!.errors.x, 'disconnected'); // a failed read is reported, not dropped
      assert.equal(poller.status().state, 'disconnected');
      assert.match(poller.status().error ?? '', /ECONNREFUSED/);
      sim = await startSimulator({
        port,
        map: {
          units: [
            { id: 1, registers: [{ area: 'holding', address: 0, type: 'uint16', value: 42 }] },
          ],
        },
      });
      await nextEvents<PlcReading>(poller, 'reading', 1, 3000, (x) => x.values.x === 42);
      assert.equal(poller.status().state, 'connected');
      await sim.close();
      sim = undefined;
      await nextEvents<PlcReading>(
        poller,
        'reading',
        1,
        3000,
        (x) => x.errors.x === 'disconnected',
      );
      assert.equal(poller.status().state, 'disconnected');
      assert.deepEqual(states.slice(0, 3), ['disconnected', 'connected', 'disconnected']);
    } finally {
      await poller.stop();
      await sim?.close();
    }
  },
);

test(
  'TCP pipelining: several reads in flight, same values, errors still per block',
  { timeout: 10_000 },
  async () => {
    const sim = await startSimulator({ map: { units: [{ id: 1 }] } });
    const holding = sim.registers(1, 'holding');
    const tags = [0, 200, 400, 600, 800].map((a, i) => {
      holding[a] = 1000 + i;
      return { name: `t${i}`, area: 'holding', address: a, type: 'uint16' };
    });
    const requests: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const delay = sim.setFault({ action: 'delay', ms: 20 }); // answers overlap only if pipelined
    sim.onRequest(() => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      requests.push(performance.now());
      setTimeout(() => inFlight--, 20);
    });
    const poller = new PlcPoller(
      tcpPlc('pipe', sim.port, [{ intervalMs: 200, tags }], { maxGap: 0 }),
      {
        logger: silentLogger,
        options: { tcpPipeline: 3 },
      },
    );
    try {
      poller.start();
      const [r] = await nextEvents<PlcReading>(
        poller,
        'reading',
        1,
        3000,
        (x) => Object.keys(x.values).length > 0,
      );
      assert.deepEqual(r!.values, { t0: 1000, t1: 1001, t2: 1002, t3: 1003, t4: 1004 });
      assert.equal(maxInFlight, 3);
      sim.clearFault(delay); // the first matching fault applies
      sim.setFault({ area: 'holding', from: 400, to: 400, action: 'exception', code: 2 });
      const [e] = await nextEvents<PlcReading>(
        poller,
        'reading',
        1,
        3000,
        (x) => Object.keys(x.errors).length > 0,
      );
      assert.deepEqual(e!.errors, { t2: 'illegal-data-address' });
      assert.equal(e!.values.t4, 1004);
    } finally {
      await poller.stop();
      await sim.close();
    }
  },
);
