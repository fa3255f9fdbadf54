// Several unit ids behind one Modbus TCP endpoint (a serial-to-Ethernet gateway): one connection,
// every unit decoded exactly, a dead unit backed off without slowing the healthy ones. Against a
// server we did not write (Debian's python3-pymodbus) and against our simulator; config check refuses
// a shared endpoint with mixed timeouts or pipeline depths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PollerSet } from '../../plc/poller/poller-set.js';
import type { PlcReading } from '../../plc/poller/plc-poller.js';
import { startSimulator } from '../../plc/simulator/simulator.js';
import { runCli } from '../helpers/cli.js';
import { startPymodbus, PYMODBUS_TAGS, pymodbusValues } from '../helpers/pymodbus.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger, sleep, tcpPlc } from './plc-fixtures.js';

const INTERVAL = 100;

function plcs(port: number, extra: Record<string, unknown>) {
  const group = [{ intervalMs: INTERVAL, tags: PYMODBUS_TAGS }];
  return [1, 2, 3, 4].map((u) =>
    tcpPlc(u === 4 ? 'ghost' : `u${u}`, port, group, {
      unitId: u,
      reconnect: { minMs: 200, maxMs: 2000 },
      ...extra,
    }),
  );
}

/** Readings per PLC, and the clean ones inside a measuring window. */
function collect(set: PollerSet) {
  const last = new Map<string, PlcReading>();
  const clean = new Map<string, number>();
  let measuring = false;
  set.on('reading', (r: PlcReading) => {
    last.set(r.plc, r);
    if (measuring && Object.keys(r.errors).length === 0)
      clean.set(r.plc, (clean.get(r.plc) ?? 0) + 1);
  });
  return {
    last,
    clean,
    measure: async (ms: number) => {
      measuring = true;
      await sleep(ms);
      measuring = false;
    },
  };
}

test(
  'pymodbus gateway: three units and a silent one share one connection; the silent one is backed off',
  { timeout: 30_000 },
  async () => {
    const server = await startPymodbus([1, 2, 3]);
    const set = new PollerSet({ logger: silentLogger });
    const seen = collect(set);
    try {
      await set.apply(plcs(server.port, { tcpPipeline: 2 }));
      await waitFor(
        () => ['u1', 'u2', 'u3'].every((id) => set.get(id)!.status().state === 'connected'),
        10_000,
        'the three present units connected',
      );
      for (const u of [1, 2, 3])
        assert.deepEqual(seen.last.get(`u${u}`)?.values, pymodbusValues(u));
      await waitFor(
        () => /unit 4/.test(set.get('ghost')!.status().error ?? ''),
        5000,
        'the silent unit says why',
      );
      const ghost = set.get('ghost')!.status();
      assert.equal(ghost.state, 'disconnected', 'a TCP connect is not an answer of the unit');
      assert.match(ghost.error!, /^timeout: unit 4 does not answer via tcp 127\.0\.0\.1:\d+/);

      // Healthy cadence while the silent unit is probed now and then (it holds one of two slots).
      const ghostRequests = set.get('ghost')!.stats().requests;
      await seen.measure(3000);
      const ticks = 3000 / INTERVAL;
      for (const id of ['u1', 'u2', 'u3'])
        assert.ok(
          (seen.clean.get(id) ?? 0) >= 0.6 * ticks,
          `${id}: ${seen.clean.get(id)} clean readings of ${ticks} ticks`,
        );
      const probes = set.get('ghost')!.stats().requests - ghostRequests;
      assert.ok(probes <= 8, `the silent unit is backed off: ${probes} probes in 3 s`);
      assert.equal(seen.last.get('ghost')?.errors.speed, 'timeout', 'its tags say why');

      assert.equal(server.total(), 1, 'one TCP connection for the four PLCs');
      assert.equal(set.tcpLinks.get('127.0.0.1', server.port)?.connections, 1);
      assert.ok((set.tcpLinks.get('127.0.0.1', server.port)?.maxInFlight ?? 0) <= 2);
    } finally {
      await set.stop();
    }
    await waitFor(() => server.open() === 0, 5000, 'the connection closed on stop');
    await server.stop();
  },
);

test(
  'our simulator: a unit it does not serve answers 0x0B and is backed off; one connection, no delay for the others',
  { timeout: 30_000 },
  async () => {
    const unit = (id: number) => ({
      id,
      registers: [
        { area: 'holding', address: 0, type: 'float32', value: id + 0.5 },
        { area: 'holding', address: 2, type: 'uint32', value: id * 100_001 },
        { area: 'holding', address: 4, type: 'int16', value: -id },
        ...[5, 6, 7, 8, 9].map((a) => ({
          area: 'holding',
          address: a,
          type: 'uint16',
          value: 1000 * id + a,
        })),
      ],
    });
    const sim = await startSimulator({ map: { units: [unit(1), unit(2), unit(3)] } });
    const set = new PollerSet({ logger: silentLogger });
    const seen = collect(set);
    try {
      await set.apply(plcs(sim.port, {})); // tcpPipeline 1: one transaction at a time
      await waitFor(
        () => ['u1', 'u2', 'u3'].every((id) => set.get(id)!.status().state === 'connected'),
        10_000,
        'the three units connected',
      );
      for (const u of [1, 2, 3])
        assert.deepEqual(seen.last.get(`u${u}`)?.values, pymodbusValues(u));
      await waitFor(
        () =>
          /gateway-target-failed-to-respond: unit 4/.test(set.get('ghost')!.status().error ?? ''),
        5000,
        'the absent unit says why',
      );
      const before = set.get('ghost')!.stats().requests;
      await seen.measure(3000);
      for (const id of ['u1', 'u2', 'u3'])
        assert.ok((seen.clean.get(id) ?? 0) >= 0.6 * 30, `${id}: ${seen.clean.get(id)} of 30`);
      assert.ok(set.get('ghost')!.stats().requests - before <= 8, 'the absent unit is backed off');
      assert.equal(sim.clients(), 1, 'one TCP connection for the four PLCs');
      assert.equal(set.tcpLinks.get('127.0.0.1', sim.port)?.maxInFlight, 1);
    } finally {
      await set.stop();
      await sim.close();
    }
  },
);

test('config check: a shared endpoint with mixed timeoutMs or tcpPipeline names both PLCs', async () => {
  const dir = tmpDir();
  try {
    const group =
      '[{ intervalMs: 100, tags: [{ name: x, area: holding, address: 0, type: int16 }] }]';
    const f = join(dir.path, 'mixed.yaml');
    writeFileSync(
      f,
      `
gateway: { tenant: acme, id: gw-01 }
plcs:
  - { id: line-a, transport: { type: tcp, host: 10.0.0.9, port: 502 }, unitId: 1, groups: ${group} }
  - { id: line-b, transport: { type: tcp, host: 10.0.0.9 }, unitId: 2, timeoutMs: 500, groups: ${group} }
  - { id: line-c, transport: { type: tcp, host: 10.0.0.9, port: 502 }, unitId: 3, tcpPipeline: 4, groups: ${group} }
  - { id: other, transport: { type: tcp, host: 10.0.0.10, port: 502 }, unitId: 1, timeoutMs: 500, tcpPipeline: 4, groups: ${group} }
`,
    );
    const r = await runCli(['config', 'check', f]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const out = r.stdout + r.stderr;
    assert.match(out, /plcs\.1\.timeoutMs: .*"line-b".*"line-a".*500.*1000/);
    assert.match(out, /plcs\.2\.tcpPipeline: .*"line-c".*"line-a".*4.*1/);
    assert.doesNotMatch(out, /plcs\.3/, 'another endpoint may have its own settings');
  } finally {
    dir.cleanup();
  }
});
