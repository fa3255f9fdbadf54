// Poller bench: N simulated PLCs × M tags read by a PollerSet (TCP, planner, codec; no MQTT), printing
// decoded tag values/s, CPU, cycle times — and, in the same run, the raw modbus-serial request rate
// against the same simulators (the ceiling any poller on this machine can reach).
import { pino } from 'pino';
import { plcSchema, type PlcConfig } from '../plc/config/schema.js';
import { PollerSet } from '../plc/poller/poller-set.js';
import type { PlcReading } from '../plc/poller/plc-poller.js';
import { rawModbusRate } from '../plc/simulator/raw-rate.js';
import { startSimulator } from '../plc/simulator/simulator.js';

const PLCS = Number(process.env.BENCH_PLCS ?? 20);
const TAGS = Number(process.env.BENCH_TAGS ?? 500);
const INTERVAL_MS = Number(process.env.BENCH_INTERVAL_MS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const SIMULATORS = 2;
/** Reads in flight per TCP PLC (PollerOptions.tcpPipeline). */
const PIPELINE = Number(process.env.BENCH_PIPELINE ?? 1);

function plc(i: number, port: number): PlcConfig {
  const types = ['float32', 'uint32', 'int16', 'uint16'] as const;
  const tags = Array.from({ length: TAGS }, (_, t) => ({
    name: `t${t}`,
    area: 'holding',
    address: t * 2,
    type: types[t % 4],
    byteOrder: t % 8 < 4 ? 'ABCD' : 'CDAB',
  }));
  return plcSchema.parse({
    id: `plc-${i}`,
    transport: { type: 'tcp', host: '127.0.0.1', port },
    groups: [{ intervalMs: INTERVAL_MS, tags }],
  });
}

const pct = (xs: number[], p: number) =>
  xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0;

export default async function bench(print: (line: string) => void) {
  const counters = Array.from({ length: TAGS * 2 }, (_, a) => ({
    area: 'holding',
    address: a,
    type: 'uint16',
    counter: { step: 1, everyMs: 100, start: a % 1000, max: 60000 },
  }));
  const sims = await Promise.all(
    Array.from({ length: SIMULATORS }, () =>
      startSimulator({ map: { tickMs: 100, units: [{ id: 1, registers: counters }] } }),
    ),
  );
  const set = new PollerSet({
    logger: pino({ level: 'warn' }),
    options: { tcpPipeline: PIPELINE },
  });
  let values = 0;
  let bad = 0;
  const durations: number[] = [];
  set.on('reading', (r: PlcReading) => {
    values += Object.keys(r.values).length;
    bad += Object.keys(r.errors).length;
    durations.push(r.durationMs);
  });
  print(
    `${PLCS} PLCs × ${TAGS} tags every ${INTERVAL_MS} ms over ${SIMULATORS} simulators = ${Math.round((PLCS * TAGS * 1000) / INTERVAL_MS)} tag values/s offered`,
  );
  await set.apply(Array.from({ length: PLCS }, (_, i) => plc(i, sims[i % SIMULATORS]!.port)));
  await new Promise((r) => setTimeout(r, 2000)); // warm-up
  values = 0;
  bad = 0;
  durations.length = 0;
  const overruns0 = set.list().reduce((s, p) => s + p.stats().overruns, 0);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const overruns = set.list().reduce((s, p) => s + p.stats().overruns, 0) - overruns0;
  const rss = process.memoryUsage().rss;
  await set.stop();
  durations.sort((a, b) => a - b);
  const figures = {
    tagValuesPerSecond: Math.round(values / secs),
    badValues: bad,
    cpuPercent: Math.round((cpu.user + cpu.system) / 1e4 / secs),
    cycleP50Ms: +pct(durations, 0.5).toFixed(2),
    cycleP99Ms: +pct(durations, 0.99).toFixed(2),
    overruns,
    rssMB: Math.round(rss / 2 ** 20),
  };
  print(
    `poller: ${figures.tagValuesPerSecond} tag values/s decoded, CPU ${figures.cpuPercent}% (simulators in the same process), cycle p50 ${figures.cycleP50Ms} ms p99 ${figures.cycleP99Ms} ms, ${overruns} overruns, RSS ${figures.rssMB} MB`,
  );
  const raw = await rawModbusRate({ port: sims[0]!.port, seconds: 5, clients: PLCS / SIMULATORS });
  const tagsPerRequest = 125 / 1.5; // the bench's mix averages 1.5 registers per tag
  print(
    `raw baseline: modbus-serial FC3×125 registers, ${PLCS / SIMULATORS} clients: ${Math.round(raw.requestsPerSecond)} requests/s = ${Math.round(raw.registersPerSecond)} registers/s ≈ ${Math.round(raw.requestsPerSecond * tagsPerRequest)} tag values/s`,
  );
  for (const s of sims) await s.close();
  return {
    ...figures,
    rawRequestsPerSecond: Math.round(raw.requestsPerSecond),
    rawRegistersPerSecond: Math.round(raw.registersPerSecond),
  };
}
