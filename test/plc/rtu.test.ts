// Modbus RTU over a socat pty pair: the simulator on one end, several PLCs (unit ids) sharing one
// serial bus on the other; requests serialised, an absent unit does not stop the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { plcSchema, type PlcConfig } from '../../plc/config/schema.js';
import { PollerSet } from '../../plc/poller/poller-set.js';
import type { PlcReading } from '../../plc/poller/plc-poller.js';
import { startRtuSimulator, startSimulator } from '../../plc/simulator/simulator.js';
import { interFrameDelayMs } from '../../plc/driver/serial-bus.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { nextEvents, silentLogger, sleep } from './plc-fixtures.js';

async function ptyPair(dir: string, suffix = '') {
  const a = join(dir, `plc-side${suffix}`);
  const b = join(dir, `gw-side${suffix}`);
  const proc = spawn(
    'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 5000;
  while (!(existsSync(a) && existsSync(b))) {
    if (Date.now() > deadline) throw new Error('socat did not create the pty pair');
    await sleep(20);
  }
  return {
    a,
    b,
    stop: () =>
      new Promise<void>((r) => {
        if (proc.exitCode !== null) return r();
        proc.once('exit', () => r());
        proc.kill('SIGKILL');
      }),
  };
}

function rtuPlc(
  id: string,
  path: string,
  unitId: number,
  extra: Record<string, unknown> = {},
): PlcConfig {
  return plcSchema.parse({
    id,
    transport: { type: 'rtu', path, baudRate: 38400, parity: 'none' },
    unitId,
    timeoutMs: 200,
    reconnect: { minMs: 50, maxMs: 200 },
    groups: [
      {
        intervalMs: 100,
        tags: [
          { name: 'speed', area: 'holding', address: 0, type: 'float32', byteOrder: 'CDAB' },
          { name: 'count', area: 'holding', address: 2, type: 'uint32' },
          { name: 'running', area: 'coil', address: 0, type: 'bool' },
          { name: 'setpoint', area: 'holding', address: 10, type: 'int16', writable: true },
        ],
      },
    ],
    ...extra,
  });
}

test('inter-frame gap: 3.5 character times, 1.75 ms above 19200 baud', () => {
  assert.ok(
    Math.abs(
      interFrameDelayMs({ path: 'x', baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 }) -
        (3.5 * 11 * 1000) / 9600,
    ) < 1e-9,
  );
  assert.ok(
    Math.abs(
      interFrameDelayMs({ path: 'x', baudRate: 9600, parity: 'none', dataBits: 8, stopBits: 1 }) -
        (3.5 * 10 * 1000) / 9600,
    ) < 1e-9,
  );
  assert.equal(
    interFrameDelayMs({ path: 'x', baudRate: 115200, parity: 'even', dataBits: 8, stopBits: 1 }),
    1.75,
  );
  assert.equal(
    interFrameDelayMs({
      path: 'x',
      baudRate: 9600,
      parity: 'even',
      dataBits: 8,
      stopBits: 1,
      interFrameMs: 7,
    }),
    7,
  );
});

test(
  'several unit ids on one RTU bus, requests one at a time, an absent unit isolated',
  { timeout: 20_000 },
  async () => {
    const dir = tmpDir('rtu-');
    const pty = await ptyPair(dir.path);
    const unit = (id: number, speed: number, count: number, running: boolean) => ({
      id,
      registers: [
        { area: 'holding', address: 0, type: 'float32', byteOrder: 'CDAB', value: speed },
        { area: 'holding', address: 2, type: 'uint32', value: count },
        { area: 'coil', address: 0, type: 'bool', value: running },
      ],
    });
    const sim = await startRtuSimulator({
      path: pty.a,
      baudRate: 38400,
      parity: 'none',
      map: {
        units: [
          unit(1, 1.5, 100_001, true),
          unit(2, 2.5, 200_002, false),
          unit(3, 3.5, 300_003, true),
        ],
      },
    });
    const set = new PollerSet({ logger: silentLogger });
    const last = new Map<string, PlcReading>();
    set.on('reading', (r: PlcReading) => last.set(r.plc, r));
    try {
      await set.apply([
        rtuPlc('u1', pty.b, 1),
        rtuPlc('u2', pty.b, 2),
        rtuPlc('u3', pty.b, 3),
        rtuPlc('ghost', pty.b, 9),
      ]);
      // every present unit delivers its own values
      await nextEvents<PlcReading>(
        set,
        'reading',
        3,
        5000,
        (r) => r.plc !== 'ghost' && Object.keys(r.errors).length === 0,
      );
      // Every present unit read cleanly and the ghost's timeout seen (at its own pace on a loaded machine).
      await waitFor(
        () =>
          ['u1', 'u2', 'u3'].every(
            (id) => Object.keys(last.get(id)?.errors ?? { no: 1 }).length === 0,
          ) && last.get('ghost')?.errors.speed === 'timeout',
        10_000,
        'readings of u1..u3 and the ghost unit timing out',
      );
      assert.deepEqual(last.get('u1')?.values, {
        speed: 1.5,
        count: 100_001,
        running: true,
        setpoint: 0,
      });
      assert.deepEqual(last.get('u2')?.values, {
        speed: 2.5,
        count: 200_002,
        running: false,
        setpoint: 0,
      });
      assert.deepEqual(last.get('u3')?.values, {
        speed: 3.5,
        count: 300_003,
        running: true,
        setpoint: 0,
      });
      assert.equal(last.get('ghost')?.errors.speed, 'timeout');
      assert.equal(set.get('ghost')!.status().state, 'disconnected');
      for (const id of ['u1', 'u2', 'u3'])
        assert.equal(set.get(id)!.status().state, 'connected', id);

      const bus = set.buses.get(pty.b)!;
      assert.equal(bus.maxConcurrent, 1, 'never two requests on the wire');
      // Seen from the line: no request while an answer was due, and the inter-frame silence kept.
      const slow = sim.setFault({ unit: 1, action: 'delay', ms: 30 });
      await sleep(400);
      sim.clearFault(slow);
      assert.equal(
        sim.line.overlaps,
        0,
        'a request arrived while another unit still had to answer',
      );
      assert.ok(
        sim.line.minSilenceMs >= bus.gapMs - 0.25,
        `shortest silence ${sim.line.minSilenceMs.toFixed(2)} ms, gap ${bus.gapMs} ms`,
      );
      assert.ok(bus.requests >= 12);
      // Each present unit keeps being served (counted at the line; on a loaded machine its polls
      // may lag the time slept above, so wait for them rather than count at one instant).
      await waitFor(
        () => [1, 2, 3].every((u) => (sim.served.get(u) ?? 0) > 3),
        10_000,
        `every unit served: ${[1, 2, 3].map((u) => sim.served.get(u) ?? 0).join(', ')}`,
      );

      // a Modbus exception over RTU: by name, on that unit's tags only, the bus and others unaffected
      const fx = sim.setFault({ unit: 3, area: 'coil', action: 'exception', code: 2 });
      const [ex] = await nextEvents<PlcReading>(
        set,
        'reading',
        1,
        3000,
        (r) => r.plc === 'u3' && Object.keys(r.errors).length > 0,
      );
      assert.deepEqual(ex!.errors, { running: 'illegal-data-address' });
      assert.equal(ex!.values.speed, 3.5);
      assert.equal(set.get('u3')!.status().state, 'degraded');
      sim.clearFault(fx);

      // a command on the bus, read back through the same bus
      const res = await set.get('u2')!.write({ setpoint: -77 }, { readBack: true });
      assert.deepEqual(res.values, { setpoint: -77 });
      assert.equal(sim.getValue(2, { area: 'holding', address: 10, type: 'int16' }), -77);
      assert.equal(sim.getValue(1, { area: 'holding', address: 10, type: 'int16' }), 0);

      // the same register model served over TCP and RTU at once
      const tcp = await startSimulator({ map: { units: [{ id: 5 }] } });
      const pty2 = await ptyPair(dir.path, '2');
      const both = await startRtuSimulator({
        path: pty2.a,
        baudRate: 38400,
        parity: 'none',
        core: tcp.core,
      });
      try {
        tcp.setValue(5, { area: 'holding', address: 0, type: 'float32', byteOrder: 'CDAB' }, 9.75);
        await set.apply([rtuPlc('u1', pty.b, 1), rtuPlc('u3', pty.b, 3), rtuPlc('u5', pty2.b, 5)]);
        await nextEvents<PlcReading>(
          set,
          'reading',
          1,
          3000,
          (r) => r.plc === 'u5' && r.values.speed === 9.75,
        );
      } finally {
        await both.close();
        await pty2.stop();
        await tcp.close();
      }

      // removing one PLC keeps the bus open for the others
      await set.apply([rtuPlc('u1', pty.b, 1), rtuPlc('u3', pty.b, 3)]);
      const before = sim.served.get(3) ?? 0;
      await waitFor(
        () => (sim.served.get(3) ?? 0) > before,
        5_000,
        'u3 still polled after u2 and ghost left',
      );
    } finally {
      await set.stop();
      await sim.close();
      await pty.stop();
      dir.cleanup();
    }
  },
);

test(
  'a dead unit on the bus is backed off: it stops holding the bus for a timeout every interval',
  { timeout: 20_000 },
  async () => {
    const dir = tmpDir('rtu-');
    const pty = await ptyPair(dir.path);
    const sim = await startRtuSimulator({
      path: pty.a,
      baudRate: 38400,
      parity: 'none',
      map: {
        units: [1, 2].map((id) => ({
          id,
          registers: [{ area: 'holding', address: 2, type: 'uint32', value: id * 7 }],
        })),
      },
    });
    const set = new PollerSet({ logger: silentLogger });
    const clean = new Map<string, number>();
    let measuring = false;
    set.on('reading', (r: PlcReading) => {
      if (measuring && Object.keys(r.errors).length === 0)
        clean.set(r.plc, (clean.get(r.plc) ?? 0) + 1);
    });
    // Without the backoff the dead unit's 250 ms timeout (+ 20 ms flush) every 100 ms interval would
    // leave the healthy units about a third of their ticks; backed off, it is probed every 1-4 s.
    const slow = { timeoutMs: 250, reconnect: { minMs: 1000, maxMs: 4000 } };
    try {
      await set.apply([
        rtuPlc('u1', pty.b, 1, slow),
        rtuPlc('u2', pty.b, 2, slow),
        rtuPlc('dead', pty.b, 9, slow),
      ]);
      await nextEvents<PlcReading>(
        set,
        'reading',
        2,
        5000,
        (r) => r.plc !== 'dead' && Object.keys(r.errors).length === 0,
      );
      await nextEvents<PlcReading>(set, 'reading', 1, 5000, (r) => r.plc === 'dead');
      const dead = set.get('dead')!;
      assert.equal(dead.status().state, 'disconnected');
      assert.match(dead.status().error ?? '', /^timeout: unit 9 does not answer via rtu /);
      await sleep(1500); // past the first, shortest backoff steps
      const before = dead.stats().requests;
      measuring = true;
      await sleep(3000);
      measuring = false;
      const probes = dead.stats().requests - before;
      assert.ok(probes <= 4, `dead unit probed ${probes} times in 3 s (30 ticks)`);
      // The healthy units keep polling; their exact cadence on a pty under a loaded machine is too
      // noisy to assert here (the TCP tests in shared-endpoint.test.ts measure it).
      for (const id of ['u1', 'u2'])
        assert.ok((clean.get(id) ?? 0) >= 8, `${id}: ${clean.get(id)} clean readings of 30`);
    } finally {
      await set.stop();
      await sim.close();
      await pty.stop();
      dir.cleanup();
    }
  },
);
