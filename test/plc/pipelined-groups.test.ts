// Poll groups of one PLC on a pipelined Modbus TCP connection (tcpPipeline > 1): their reads are in
// flight at once, seen from the simulator's side; each reading's ts is when its first request went
// out, also when it waited for a transaction slot; a silent unit behind the same endpoint holds at
// most one slot and the healthy unit's groups keep their cadence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlcPoller, type PlcReading } from '../../plc/poller/plc-poller.js';
import { PollerSet } from '../../plc/poller/poller-set.js';
import { startSimulator, type Simulator } from '../../plc/simulator/simulator.js';
import { waitFor } from '../helpers/wait.js';
import { nextEvents, silentLogger, sleep, tcpPlc } from './plc-fixtures.js';

interface Arrival {
  unit: number;
  address: number;
  /** Date.now() when the simulator got the request (the poller's ts uses the same clock). */
  atMs: number;
  /** performance.now() of the same moment, for overlaps. */
  at: number;
}

function recordRequests(sim: Simulator): Arrival[] {
  const log: Arrival[] = [];
  sim.onRequest((unit, _fc, address) =>
    log.push({ unit, address, atMs: Date.now(), at: performance.now() }),
  );
  return log;
}

/**
 * Most requests outstanding at the simulator at once, each counted from its arrival for `holdMs`
 * (the answer delay, or the client's timeout for a unit that never answers) less 2 ms (a timer may
 * fire up to a millisecond early), and the addresses of the requests outstanding at that moment.
 */
function maxOutstanding(log: Arrival[], holdMs: number): { max: number; addresses: number[] } {
  let best: Arrival[] = [];
  for (const a of log) {
    const open = log.filter((b) => b.at <= a.at && b.at + holdMs - 2 > a.at);
    if (open.length > best.length) best = open;
  }
  return { max: best.length, addresses: best.map((b) => b.address) };
}

/** n groups, each one uint16 tag per block, blocks `stride` registers apart (never merged). */
function groups(n: number, blocksPerGroup: number, intervalMs: number) {
  return Array.from({ length: n }, (_, g) => ({
    intervalMs,
    tags: Array.from({ length: blocksPerGroup }, (_, b) => ({
      name: `g${g}b${b}`,
      area: 'holding',
      address: 1000 * g + 300 * b,
      type: 'uint16',
    })),
  }));
}

test(
  'groups of one PLC read at once on a pipelined connection, one at a time without pipelining',
  { timeout: 30_000 },
  async () => {
    const DELAY = 100;
    const sim = await startSimulator({ map: { units: [{ id: 1 }] } });
    const holding = sim.registers(1, 'holding');
    for (let g = 0; g < 4; g++) holding[1000 * g] = 500 + g;
    sim.setFault({ action: 'delay', ms: DELAY }); // answers overlap only if requests do
    try {
      for (const pipeline of [4, 1]) {
        const log = recordRequests(sim);
        const poller = new PlcPoller(
          tcpPlc(`p${pipeline}`, sim.port, groups(4, 1, 600), { tcpPipeline: pipeline }),
          { logger: silentLogger },
        );
        const byGroup = new Map<number, PlcReading[]>();
        poller.on('reading', (r) => byGroup.set(r.group, [...(byGroup.get(r.group) ?? []), r]));
        try {
          poller.start();
          await waitFor(
            () => [0, 1, 2, 3].every((g) => (byGroup.get(g)?.length ?? 0) >= 3),
            15_000,
            'three readings of every group',
          );
        } finally {
          await poller.stop();
        }
        const seen = maxOutstanding(log, DELAY);
        if (pipeline === 4) {
          assert.equal(seen.max, 4, 'the four groups had their reads in flight at once');
          assert.deepEqual(
            [...new Set(seen.addresses)].sort((a, b) => a - b),
            [0, 1000, 2000, 3000],
            'one read of each group',
          );
        } else assert.equal(seen.max, 1, 'tcpPipeline 1: one request at a time');
        for (const [g, rs] of byGroup) {
          for (const r of rs) {
            assert.deepEqual(r.errors, {}, `group ${g}`);
            assert.deepEqual(r.values, { [`g${g}b0`]: 500 + g });
          }
          const ts = rs.map((r) => r.tsMs);
          assert.deepEqual(
            ts,
            [...ts].sort((a, b) => a - b),
            `group ${g}: readings in order`,
          );
        }
      }
    } finally {
      sim.onRequest(undefined);
      await sim.close();
    }
  },
);

test(
  'ts of a reading is when its first request went out, also after waiting for a transaction slot',
  { timeout: 40_000 },
  async () => {
    const DELAY = 500;
    const sim = await startSimulator({ map: { units: [{ id: 1 }] } });
    sim.setFault({ action: 'delay', ms: DELAY });
    const log = recordRequests(sim);
    // Three groups of two blocks on four slots: two groups take the four slots, the third waits.
    const poller = new PlcPoller(
      tcpPlc('ts', sim.port, groups(3, 2, 2500), { tcpPipeline: 4, maxGap: 0, timeoutMs: 3000 }),
      { logger: silentLogger },
    );
    const readings: PlcReading[] = [];
    poller.on('reading', (r) => readings.push(r));
    try {
      poller.start();
      await waitFor(
        () => readings.some((r) => r.durationMs >= DELAY * 1.5),
        25_000,
        'a cycle that waited for a slot',
      );
    } finally {
      await poller.stop();
      sim.onRequest(undefined);
      await sim.close();
    }
    const waited = readings.filter((r) => r.durationMs >= DELAY * 1.5);
    for (const r of readings) {
      assert.deepEqual(r.errors, {});
      const first = 1000 * r.group; // the address of the group's first block
      // Its request reached the simulator after ts and well before a slot-wait (DELAY) later: a ts
      // taken when the cycle began would precede the request of a waiting cycle by about DELAY
      // (the half-DELAY margin absorbs this process being descheduled on a loaded machine).
      const arrived = log.filter(
        (a) => a.address === first && a.atMs >= r.tsMs && a.atMs < r.tsMs + DELAY / 2,
      );
      assert.equal(
        arrived.length,
        1,
        `group ${r.group} reading at ${r.tsMs} (waited ${Math.round(r.durationMs)} ms): its request arrived at ${log
          .filter((a) => a.address === first)
          .map((a) => a.atMs)
          .join(', ')}`,
      );
    }
    assert.ok(waited.length >= 1);
  },
);

test(
  'a silent unit behind the pipelined endpoint holds one slot at most; the healthy groups keep their cadence',
  { timeout: 30_000 },
  async () => {
    const INTERVAL = 200;
    const TIMEOUT = 300;
    const sim = await startSimulator({ map: { units: [{ id: 1 }, { id: 2 }] } });
    sim.setFault({ unit: 2, action: 'silence' });
    const log = recordRequests(sim);
    const set = new PollerSet({ logger: silentLogger });
    const clean = new Map<number, number>();
    let measuring = false;
    set.on('reading', (r) => {
      if (measuring && r.plc === 'healthy' && Object.keys(r.errors).length === 0)
        clean.set(r.group, (clean.get(r.group) ?? 0) + 1);
    });
    const extra = { tcpPipeline: 4, timeoutMs: TIMEOUT, reconnect: { minMs: 200, maxMs: 1000 } };
    try {
      await set.apply([
        tcpPlc('healthy', sim.port, groups(4, 1, INTERVAL), { ...extra, unitId: 1 }),
        tcpPlc('silent', sim.port, groups(4, 1, INTERVAL), { ...extra, unitId: 2 }),
      ]);
      await nextEvents<PlcReading>(set, 'reading', 1, 10_000, (r) => r.plc === 'healthy');
      await waitFor(
        () => /unit 2 does not answer/.test(set.get('silent')!.status().error ?? ''),
        10_000,
        'the silent unit says why',
      );
      measuring = true;
      await sleep(3000);
      measuring = false;
    } finally {
      await set.stop();
      sim.onRequest(undefined);
      await sim.close();
    }
    const silent = maxOutstanding(
      log.filter((a) => a.unit === 2),
      TIMEOUT,
    );
    assert.equal(silent.max, 1, 'the silent unit never had two requests waiting at once');
    const ticks = 3000 / INTERVAL;
    for (const g of [0, 1, 2, 3])
      assert.ok(
        (clean.get(g) ?? 0) >= 0.6 * ticks,
        `healthy group ${g}: ${clean.get(g)} clean readings of ${ticks} ticks`,
      );
  },
);
