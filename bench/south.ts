// The south side alone, in the shape of the bridge's one-plc phase: one PLC, 40 groups × 62 float32
// at 10 ms (one 124-register read each), read by a PollerSet (driver, planner, codec, poller; no
// change filter, no MQTT) from a simulator in another process, so this process's CPU is the
// poller's. Prints values decoded per second and per CPU-second, and the bare modbus-serial client
// (124-register reads back to back on one connection) measured the same way in the same run.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { plcSchema } from '../plc/config/schema.js';
import { PollerSet } from '../plc/poller/poller-set.js';
import { rawModbusRate } from '../plc/simulator/raw-rate.js';
import type { BenchFn } from './run.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
/**
 * Groups of 62 float32 polled every 10 ms (the shortest interval the config takes): 40 is the
 * bridge's one-plc phase, which offers 248,000 values/s, less than a bare client reads on a quiet
 * machine; 120 offers more than the connection carries (the poller's ceiling).
 */
const GROUPS = Number(process.env.BENCH_GROUPS ?? 40);
/** tcpPipeline of the PLC (the bridge's one-plc phase uses 8). */
const PIPELINE = Number(process.env.BENCH_PIPELINE ?? 8);

const cpuSecondsSince = (u0: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(u0);
  return (u.user + u.system) / 1e6;
};

const bench: BenchFn = async (print) => {
  const child = fork(fileURLToPath(new URL('./south-sim.ts', import.meta.url)));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve(Number(m)));
      child.once('exit', (code) => reject(new Error(`simulator exited (${code})`)));
    });
    const u0 = process.cpuUsage();
    const raw = await rawModbusRate({ port, seconds: 5, clients: 1, count: 124 });
    const rawCpu = cpuSecondsSince(u0);
    const bare = {
      valuesPerSec: Math.round(raw.requestsPerSecond * 62),
      valuesPerCpuSec: Math.round((raw.requests * 62) / rawCpu),
    };
    print(
      `bare modbus-serial client, one connection, 124-register reads back to back: ${bare.valuesPerSec} float32 values/s, ${bare.valuesPerCpuSec} per CPU-second`,
    );
    const groups = Array.from({ length: GROUPS }, (_, g) => ({
      intervalMs: 10,
      tags: Array.from({ length: 62 }, (_, i) => ({
        name: `t${g * 62 + i}`,
        area: 'holding',
        address: (g * 62 + i) * 2,
        type: 'float32',
      })),
    }));
    const set = new PollerSet({ logger: pino({ level: 'warn' }) });
    let values = 0;
    set.on('reading', (r) => {
      for (const _ in r.values) values++;
    });
    await set.apply([
      plcSchema.parse({
        id: 'plc',
        transport: { type: 'tcp', host: '127.0.0.1', port },
        tcpPipeline: PIPELINE,
        groups,
      }),
    ]);
    await new Promise((r) => setTimeout(r, 3000)); // connect, first cycles, JIT
    values = 0;
    const u1 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const secs = (performance.now() - t0) / 1000;
    const cpu = cpuSecondsSince(u1);
    const counted = values;
    await set.stop();
    const out = {
      pipeline: PIPELINE,
      groups: GROUPS,
      valuesPerSec: Math.round(counted / secs),
      cpuPercent: Math.round((cpu / secs) * 100),
      valuesPerCpuSec: Math.round(counted / cpu),
      shareOfBare: Number((counted / secs / bare.valuesPerSec).toFixed(2)),
      bareValuesPerSec: bare.valuesPerSec,
      bareValuesPerCpuSec: bare.valuesPerCpuSec,
    };
    print(
      `poller, 1 PLC × ${GROUPS} groups × 62 float32 @ 10 ms (${GROUPS * 62 * 100} values/s offered), tcpPipeline ${PIPELINE}: ${out.valuesPerSec} values/s (${Math.round(out.shareOfBare * 100)} % of the bare client), CPU ${out.cpuPercent} %, ${out.valuesPerCpuSec} values per CPU-second`,
    );
    return out;
  } finally {
    child.kill();
  }
};
export default bench;
