// The running agent with one PLC on a pipelined connection (tcpPipeline 4): its poll groups' reads
// are in flight at once (seen at the simulator), and the `ts` of every data message is the moment its
// read went out, also for a group that waited for a free transaction slot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway-fixture.js';

const DELAY = 500;
const INTERVAL = 2500;

test(
  'agent: groups of one PLC read at once on a pipelined connection; ts is each read',
  { timeout: 150_000 },
  async (t) => {
    // Three groups of two blocks on four slots: two groups fill the slots, the third waits DELAY.
    const groups = [0, 1, 2].map((g) => ({
      intervalMs: INTERVAL,
      tags: [0, 1].map((b) => ({
        name: `g${g}b${b}`,
        area: 'holding',
        address: 1000 * g + 300 * b,
        type: 'uint16',
      })),
    }));
    const arrivals: { address: number; atMs: number; at: number }[] = [];
    const gw = await startGateway(t, {
      id: 'gw-pipe',
      sims: 1,
      move: false,
      start: false,
      config: ({ broker, sims }) => ({
        gateway: { tenant: 'acme', id: 'gw-pipe' },
        wms: { urls: [broker!.url], heartbeatSeconds: 3600 },
        plcs: [
          {
            id: 'press',
            transport: { type: 'tcp', host: '127.0.0.1', port: sims[0]!.port },
            tcpPipeline: 4,
            maxGap: 0,
            timeoutMs: 3000,
            groups,
          },
        ],
      }),
    });
    const sim = gw.sims[0]!;
    sim.setFault({ action: 'delay', ms: DELAY });
    sim.onRequest((_u, _fc, address) =>
      arrivals.push({ address, atMs: Date.now(), at: performance.now() }),
    );
    // Every register moves, so every read is a data message (report by exception); the high nibble
    // names the group, so a value read from the wrong place would show.
    const regs = sim.registers(1, 'holding');
    let n = 0;
    const mover = setInterval(() => {
      n = (n + 1) & 0xfff;
      for (let g = 0; g < 3; g++) for (const b of [0, 1]) regs[1000 * g + 300 * b] = (g << 12) | n;
    }, 100);
    t.after(() => clearInterval(mover));
    await gw.startAgent();

    const data = () =>
      gw.sub.json<{ ts: string; values: Record<string, number> }>('/plc/press/data');
    const groupOf = (m: { values: Record<string, number> }) =>
      Number(/^g(\d)b/.exec(Object.keys(m.values)[0] ?? '')?.[1] ?? -1);
    await gw.until(
      () => [0, 1, 2].every((g) => data().filter((m) => groupOf(m) === g).length >= 3),
      90_000,
      'three data messages of every group',
    );
    sim.onRequest(undefined);
    const messages = data(); // every one of them was read while requests were being recorded

    // In flight at once: requests outstanding together at the simulator, from different groups.
    let most: typeof arrivals = [];
    for (const a of arrivals) {
      const open = arrivals.filter((b) => b.at <= a.at && b.at + DELAY - 2 > a.at); // a timer may fire 1 ms early
      if (open.length > most.length) most = open;
    }
    assert.equal(most.length, 4, 'four requests in flight at once');
    assert.equal(new Set(most.map((a) => Math.floor(a.address / 1000))).size, 2, 'of two groups');

    for (const m of messages) {
      const g = groupOf(m);
      assert.ok(g >= 0, JSON.stringify(m));
      for (const [name, v] of Object.entries(m.values))
        assert.equal(v >> 12, Number(name[1]), `${name} read from its own register`);
      // The group's first request reached the simulator after ts and well before a slot wait later.
      const ts = Date.parse(m.ts);
      const mine = arrivals.filter((a) => a.address === 1000 * g);
      assert.equal(
        mine.filter((a) => a.atMs >= ts && a.atMs < ts + DELAY / 2).length,
        1,
        `group ${g} message ts ${m.ts}: its requests arrived at ${mine.map((a) => new Date(a.atMs).toISOString()).join(', ')}`,
      );
    }
  },
);
