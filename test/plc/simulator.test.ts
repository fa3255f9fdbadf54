// The simulator against an independent client (plain modbus-serial): every function code, the standard
// exceptions, several unit ids, injected faults, the map format and the `simulate` command.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModbusRTU, type ModbusRTUClient } from '../../plc/driver/modbus-serial.js';
import { startSimulator, type Simulator } from '../../plc/simulator/simulator.js';
import { isSimulatorMapError, parseSimulatorMap } from '../../plc/simulator/map.js';
import { demoMap } from '../../plc/simulator/demo.js';
import { spawnCli, runCli, waitForOutput } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

let sim: Simulator;
let client: ModbusRTUClient;

before(async () => {
  sim = await startSimulator({
    map: {
      units: [
        {
          id: 1,
          sizes: { coil: 100, discrete: 100, holding: 200, input: 50 },
          registers: [
            { area: 'holding', address: 0, type: 'uint16', value: 1111 },
            { area: 'input', address: 0, type: 'int16', value: -2 },
            { area: 'discrete', address: 3, type: 'bool', value: true },
            { area: 'coil', address: 5, type: 'bool', value: true },
          ],
        },
        { id: 2, registers: [{ area: 'holding', address: 0, type: 'uint16', value: 2222 }] },
      ],
    },
  });
  client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port: sim.port });
  client.setTimeout(1000);
  client.setID(1);
});

after(async () => {
  await new Promise<void>((r) => client.close(() => r()));
  await sim.close();
});

async function exceptionCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    return (e as { modbusCode: number }).modbusCode;
  }
  assert.fail('expected a Modbus exception');
}

test('FC1-FC4 read what the map holds', { timeout: 5000 }, async () => {
  assert.deepEqual((await client.readHoldingRegisters(0, 2)).data, [1111, 0]);
  assert.deepEqual((await client.readInputRegisters(0, 1)).data, [0xfffe]);
  assert.deepEqual((await client.readDiscreteInputs(0, 5)).data.slice(0, 5), [
    false,
    false,
    false,
    true,
    false,
  ]);
  assert.deepEqual((await client.readCoils(4, 3)).data.slice(0, 3), [false, true, false]);
});

test('FC5, FC6, FC15, FC16 write, and reads see the writes', { timeout: 5000 }, async () => {
  await client.writeCoil(10, true);
  await client.writeCoils(20, [true, false, true, true, false, false, true, true, true]);
  await client.writeRegister(100, 0xbeef);
  await client.writeRegisters(101, [1, 2, 3, 65535]);
  assert.deepEqual((await client.readCoils(10, 1)).data[0], true);
  assert.deepEqual((await client.readCoils(20, 9)).data.slice(0, 9), [
    true,
    false,
    true,
    true,
    false,
    false,
    true,
    true,
    true,
  ]);
  assert.deepEqual((await client.readHoldingRegisters(100, 5)).data, [0xbeef, 1, 2, 3, 65535]);
  assert.deepEqual(
    Array.from(sim.registers(1, 'holding').subarray(100, 105)),
    [0xbeef, 1, 2, 3, 65535],
  );
});

test('exceptions: illegal function, address and value', { timeout: 5000 }, async () => {
  assert.equal(await exceptionCode(client.customFunction(0x41, [0, 0])), 1);
  assert.equal(await exceptionCode(client.readHoldingRegisters(199, 2)), 2); // ends past the area
  assert.equal(await exceptionCode(client.readInputRegisters(60, 1)), 2);
  assert.equal(await exceptionCode(client.writeRegister(200, 1)), 2);
  assert.equal(await exceptionCode(client.writeCoils(99, [true, true])), 2);
  assert.equal(await exceptionCode(client.readHoldingRegisters(0, 126)), 3); // over the 125 cap
  assert.equal(await exceptionCode(client.readCoils(0, 2001)), 3);
});

test(
  'several unit ids, each with its own memory; an unknown one gets exception 11',
  { timeout: 5000 },
  async () => {
    const c2 = new ModbusRTU();
    await c2.connectTCP('127.0.0.1', { port: sim.port });
    c2.setTimeout(1000);
    try {
      c2.setID(2);
      assert.deepEqual((await c2.readHoldingRegisters(0, 1)).data, [2222]);
      c2.setID(7);
      assert.equal(await exceptionCode(c2.readHoldingRegisters(0, 1)), 11);
      assert.deepEqual((await client.readHoldingRegisters(0, 1)).data, [1111]);
    } finally {
      await new Promise<void>((r) => c2.close(() => r()));
    }
  },
);

test(
  'injected faults: exception, delay, silence, short frame, drop; times expire',
  { timeout: 10_000 },
  async () => {
    const f = sim.setFault({
      unit: 1,
      area: 'holding',
      from: 150,
      to: 159,
      action: 'exception',
      code: 6,
    });
    assert.equal(await exceptionCode(client.readHoldingRegisters(155, 1)), 6);
    assert.deepEqual((await client.readHoldingRegisters(160, 1)).data, [0]); // outside the range
    sim.clearFault(f);

    sim.setFault({ unit: 1, area: 'input', from: 10, to: 10, action: 'delay', ms: 150, times: 1 });
    const t0 = performance.now();
    await client.readInputRegisters(10, 1);
    assert.ok(performance.now() - t0 >= 140);

    sim.setFault({ unit: 1, fc: 3, from: 170, to: 170, action: 'silence', times: 1 });
    client.setTimeout(200);
    await assert.rejects(
      client.readHoldingRegisters(170, 1),
      (e: { errno?: string }) => e.errno === 'ETIMEDOUT',
    );
    client.setTimeout(1000);

    sim.setFault({ unit: 1, fc: 3, from: 180, to: 180, action: 'short', times: 1 });
    await assert.rejects(client.readHoldingRegisters(180, 2), /length/i);
    assert.deepEqual((await client.readHoldingRegisters(180, 2)).data, [0, 0]); // expired after one use

    const c3 = new ModbusRTU();
    await c3.connectTCP('127.0.0.1', { port: sim.port });
    c3.setTimeout(1000);
    const closed = new Promise<void>((r) => c3.on('close', () => r()));
    sim.setFault({ unit: 1, area: 'coil', from: 90, to: 99, action: 'drop', times: 1 });
    c3.setID(1);
    void c3.readCoils(95, 1).catch(() => undefined);
    await closed;
  },
);

test('many concurrent clients are served', { timeout: 10_000 }, async () => {
  const clients = await Promise.all(
    Array.from({ length: 50 }, async () => {
      const c = new ModbusRTU();
      await c.connectTCP('127.0.0.1', { port: sim.port });
      c.setTimeout(2000);
      c.setID(1);
      return c;
    }),
  );
  const res = await Promise.all(clients.map((c) => c.readHoldingRegisters(0, 1)));
  assert.ok(res.every((r) => r.data[0] === 1111));
  await Promise.all(clients.map((c) => new Promise<void>((r) => c.close(() => r()))));
});

test('map validation names the field', () => {
  const bad = (doc: unknown, path: string) =>
    assert.throws(
      () => parseSimulatorMap(doc),
      (e) => isSimulatorMapError(e) && e.path === path,
    );
  bad(
    { units: [{ id: 1, registers: [{ area: 'holding', address: 0, type: 'float33', value: 1 }] }] },
    'units.0.registers.0.type',
  );
  bad(
    {
      units: [
        {
          id: 1,
          registers: [{ area: 'holding', address: 0, type: 'int16', byteOrder: 'XYZW', value: 1 }],
        },
      ],
    },
    'units.0.registers.0.byteOrder',
  );
  bad(
    { units: [{ id: 1, registers: [{ area: 'holding', address: 0, type: 'int16' }] }] },
    'units.0.registers.0',
  );
  bad(
    { units: [{ id: 1, registers: [{ area: 'holding', address: 0, type: 'int16', toggle: {} }] }] },
    'units.0.registers.0.toggle',
  );
  bad(
    {
      units: [
        {
          id: 1,
          registers: [{ area: 'holding', address: 0, type: 'int16', sine: { periodMs: 'x' } }],
        },
      ],
    },
    'units.0.registers.0.sine.periodMs',
  );
  bad({ units: [{ id: 1 }, { id: 1 }] }, 'units.1.id');
  bad(
    {
      units: [
        {
          id: 1,
          sizes: { holding: 10 },
          registers: [{ area: 'holding', address: 9, type: 'int32', value: 1 }],
        },
      ],
    },
    'units.0.registers.0.address',
  );
  bad({ units: [] }, 'units');
  bad({ units: [{ id: 1 }], faults: [{ action: 'explode' }] }, 'faults.0.action');
  assert.equal(parseSimulatorMap(demoMap).units[0]!.entries.length > 20, true);
});

test(
  'values move: counters, sines and toggles change between ticks',
  { timeout: 5000 },
  async () => {
    const s = await startSimulator({
      map: {
        tickMs: 20,
        units: [
          {
            id: 1,
            registers: [
              { area: 'holding', address: 0, type: 'uint16', counter: { step: 1, everyMs: 20 } },
              {
                area: 'holding',
                address: 1,
                type: 'float32',
                byteOrder: 'DCBA',
                sine: { amplitude: 10, periodMs: 400 },
              },
              { area: 'coil', address: 0, type: 'bool', toggle: { everyMs: 30 } },
            ],
          },
        ],
      },
    });
    try {
      const snap = () => [
        s.registers(1, 'holding')[0],
        s.getValue(1, { area: 'holding', address: 1, type: 'float32', byteOrder: 'DCBA' }),
        s.registers(1, 'coil')[0],
      ];
      const seen = [snap()];
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 45));
        seen.push(snap());
      }
      for (const k of [0, 1, 2])
        assert.ok(
          new Set(seen.map((x) => x[k])).size > 1,
          `column ${k} moved: ${JSON.stringify(seen)}`,
        );
    } finally {
      await s.close();
    }
  },
);

test(
  '`wms-gateway simulate` serves, prints what it serves, exits 0 on SIGTERM; a bad map exits 2 naming the field',
  { timeout: 30_000 },
  async () => {
    const dir = tmpDir();
    try {
      const file = join(dir.path, 'map.yaml');
      writeFileSync(
        file,
        'units:\n  - id: 1\n    registers:\n      - { area: holding, address: 0, type: int16, byteOrder: WXYZ, value: 1 }\n',
      );
      const bad = await runCli(['simulate', '--port', '0', '--map', file]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /units\.0\.registers\.0\.byteOrder/);
      assert.equal(bad.stderr.trim().split('\n').length, 1);

      writeFileSync(
        file,
        'units:\n  - id: 4\n    registers:\n      - { name: speed, area: holding, address: 3, type: int16, value: 321 }\n',
      );
      const child = spawnCli(['simulate', '--port', '0', '--map', file]);
      const line = await waitForOutput(child, /listening on 127\.0\.0\.1:(\d+)/);
      const port = Number(/:(\d+)/.exec(line)![1]);
      const c = new ModbusRTU();
      await c.connectTCP('127.0.0.1', { port });
      c.setID(4);
      c.setTimeout(1000);
      assert.deepEqual((await c.readHoldingRegisters(3, 1)).data, [321]);
      await new Promise<void>((r) => c.close(() => r()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      dir.cleanup();
    }
  },
);
