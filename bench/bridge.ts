// PLC → WMS throughput: N simulated PLCs × M tags through the real agent process to a subscriber on a
// real mosquitto. Prints tag values/s delivered, read→receipt latency, the agent's CPU and peak RSS,
// and, in the same run, the raw modbus-serial request rate against the same simulators (the ceiling).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import type { BenchFn } from './run.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { spawn } from 'node:child_process';
import { ROOT, waitForOutput } from '../test/helpers/cli.js';
import { tmpDir } from '../test/helpers/tmp.js';
import { startSimulator, type Simulator } from '../plc/simulator/simulator.js';
import { rawModbusRate } from '../plc/simulator/raw-rate.js';
import { cpuSeconds, peakRssMb, percentile } from './proc-stats.js';
import { decodePayload } from '../agent/sparkplug/payload-codec.js';

const PLCS = Number(process.env.BENCH_PLCS ?? 8);
// BENCH_BRIDGE_SHORT=1: light and target phases only, shorter, both formats (for a shared machine).
const SHORT = process.env.BENCH_BRIDGE_SHORT === '1';
// The agent's production V8 flags (Dockerfile.template NODE_OPTIONS, npm start); BENCH_AGENT_FLAGS
// overrides them for memory experiments ('' = Node defaults).
const AGENT_FLAGS = (
  process.env.BENCH_AGENT_FLAGS ?? '--max-semi-space-size=2 --max-old-space-size=96'
)
  .split(' ')
  .filter(Boolean);

interface Phase {
  name: string;
  tags: number;
  intervalMs: number;
  seconds: number;
  format?: 'json' | 'sparkplug-b';
}

async function runPhase(
  phase: Phase,
  sims: Simulator[],
  brokerUrl: string,
  print: (l: string) => void,
) {
  const dir = tmpDir('bench-bridge-');
  const tagList = Array.from({ length: phase.tags }, (_, i) => ({
    name: `t${i}`,
    area: 'holding',
    address: i,
    type: 'int16',
  }));
  const config = {
    gateway: { tenant: 'bench', id: 'gw' },
    wms: { urls: [brokerUrl], heartbeatSeconds: 3600, format: phase.format ?? 'json' },
    plcs: sims.map((s, i) => ({
      id: `plc-${i}`,
      transport: { type: 'tcp', host: '127.0.0.1', port: s.port },
      fullReportSeconds: 0,
      groups: [{ intervalMs: phase.intervalMs, tags: tagList }],
    })),
  };
  const cfg = join(dir.path, 'gateway.yaml');
  writeFileSync(cfg, stringify(config));
  // Every register changes between polls so every read is a reported value (worst case for the path).
  const mover = setInterval(
    () => {
      for (const s of sims) {
        const regs = s.registers(1, 'holding') as Uint16Array;
        for (let i = 0; i < phase.tags; i++) regs[i] = (regs[i]! + 1) & 0x7fff;
      }
    },
    Math.max(5, Math.floor(phase.intervalMs / 2)),
  );

  const sub = await mqtt.connectAsync(brokerUrl, { clientId: `bench-sub-${phase.name}` });
  let values = 0;
  let messages = 0;
  let counting = false;
  const latencies: number[] = [];
  const sparkplug = phase.format === 'sparkplug-b';
  let seenAny = false;
  sub.on('message', (_t, payload) => {
    seenAny = true;
    if (!counting) return;
    messages++;
    if (sparkplug) {
      // Every DDATA decoded, as a host would; latency from the metrics' read time.
      const p = decodePayload(payload);
      values += p.metrics.length;
      const ts = p.metrics[0]?.timestamp;
      if (ts !== undefined) latencies.push(Date.now() - ts);
      return;
    }
    const m = JSON.parse(payload.toString()) as { ts: string; values: object };
    values += Object.keys(m.values).length;
    latencies.push(Date.now() - Date.parse(m.ts));
  });
  await sub.subscribeAsync(sparkplug ? 'spBv1.0/bench/DDATA/gw/+' : 'wms/bench/gw/plc/+/data', {
    qos: 1,
  });

  // The built agent (dist/), as it runs in the image — not the tsx loader the tests use.
  const agent = spawn(
    process.execPath,
    [
      ...AGENT_FLAGS,
      join(ROOT, 'bin', 'wms-gateway.js'),
      'run',
      '--config',
      cfg,
      '--data-dir',
      join(dir.path, 'data'),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HTTP_PORT: '0', LOG_LEVEL: 'warn', LOG_JSON: '1' },
    },
  );
  await waitForOutput(agent, /./, 100).catch(() => undefined);
  const requestsBefore = () => sims.reduce((n, s) => n + s.core.requestsByFc[3]!, 0);
  // Warm up: connect and first full reads. On a loaded machine the agent may take far longer than
  // usual to start, so wait for its first message (bounded), then a little more.
  const deadline = Date.now() + 120_000;
  while (!seenAny && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 3000));
  const pid = agent.pid!;
  const cpu0 = cpuSeconds(pid);
  const req0 = requestsBefore();
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, phase.seconds * 1000));
  counting = false;
  const secs = (performance.now() - t0) / 1000;
  const cpu = ((cpuSeconds(pid) - cpu0) / secs) * 100;
  const reqRate = (requestsBefore() - req0) / secs;
  const rss = peakRssMb(pid);
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  clearInterval(mover);
  await sub.endAsync();
  dir.cleanup();
  latencies.sort((a, b) => a - b);
  const r = {
    valuesPerSec: Math.round(values / secs),
    messagesPerSec: Math.round(messages / secs),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpu: Math.round(cpu),
    rss: Math.round(rss),
    reqRate: Math.round(reqRate),
    valuesPerCoreSec: Math.round(values / secs / Math.max(0.01, cpu / 100)),
  };
  print(
    `${phase.name}: ${PLCS} PLCs × ${phase.tags} tags @ ${phase.intervalMs} ms — ${r.valuesPerSec} tag values/s delivered ` +
      `(${r.messagesPerSec} msg/s), latency read→receipt p50 ${r.p50} ms p99 ${r.p99} ms, agent CPU ${r.cpu} % ` +
      `(${r.valuesPerCoreSec} values per core-second), peak RSS ${r.rss} MB, Modbus requests ${r.reqRate}/s`,
  );
  return r;
}

const bench: BenchFn = async (print) => {
  const broker = await startMosquitto();
  const sims: Simulator[] = [];
  for (let i = 0; i < PLCS; i++)
    sims.push(
      await startSimulator({
        host: '127.0.0.1',
        port: 0,
        map: { units: [{ id: 1, sizes: { holding: 65536 } }] },
      }),
    );
  try {
    const raw = await rawModbusRate({ port: sims[0]!.port, seconds: 5, clients: PLCS, count: 125 });
    print(
      `raw baseline: modbus-serial FC3 ×125 registers, ${PLCS} connections, one in flight each: ${Math.round(raw.requestsPerSecond)} requests/s (${Math.round(raw.registersPerSecond)} registers/s)`,
    );
    if (SHORT) {
      const out: Record<string, number> = { rawRequestsPerSec: Math.round(raw.requestsPerSecond) };
      for (const [name, tags] of [
        ['light load', 100],
        ['target load', 1250],
      ] as const) {
        const json = await runPhase(
          { name: `${name} (json)`, tags, intervalMs: 100, seconds: 8 },
          sims,
          broker.url,
          print,
        );
        const spb = await runPhase(
          {
            name: `${name} (sparkplug-b)`,
            tags,
            intervalMs: 100,
            seconds: 8,
            format: 'sparkplug-b',
          },
          sims,
          broker.url,
          print,
        );
        print(
          `${name}: sparkplug-b / json — values/s ${(spb.valuesPerSec / json.valuesPerSec).toFixed(2)}, ` +
            `values per core-second ${(spb.valuesPerCoreSec / json.valuesPerCoreSec).toFixed(2)}, p99 ${spb.p99} vs ${json.p99} ms`,
        );
        const key = name.split(' ')[0]!;
        Object.assign(out, {
          [`${key}JsonValuesPerSec`]: json.valuesPerSec,
          [`${key}SparkplugValuesPerSec`]: spb.valuesPerSec,
          [`${key}JsonCpuPct`]: json.cpu,
          [`${key}SparkplugCpuPct`]: spb.cpu,
          [`${key}JsonP99Ms`]: json.p99,
          [`${key}SparkplugP99Ms`]: spb.p99,
          [`${key}SparkplugRssMb`]: spb.rss,
        });
      }
      return out;
    }
    // Light load: the data path's own latency floor (one read request per poll).
    const light = await runPhase(
      { name: 'light load', tags: 100, intervalMs: 100, seconds: 10 },
      sims,
      broker.url,
      print,
    );
    // Target load: 8 PLCs × 1250 tags every 100 ms = 100,000 tag values/s.
    const target = await runPhase(
      { name: 'target load', tags: 1250, intervalMs: 100, seconds: 20 },
      sims,
      broker.url,
      print,
    );
    // Saturation: polls back to back; the agent's request rate against the raw ceiling.
    const sat = await runPhase(
      { name: 'saturation', tags: 5000, intervalMs: 10, seconds: 15 },
      sims,
      broker.url,
      print,
    );
    // The same target load in Sparkplug B mode (DDATA by alias through the same outbox).
    const spb = await runPhase(
      {
        name: 'target load (sparkplug-b)',
        tags: 1250,
        intervalMs: 100,
        seconds: 20,
        format: 'sparkplug-b',
      },
      sims,
      broker.url,
      print,
    );
    print(
      `sparkplug-b / json at target load: values/s ${(spb.valuesPerSec / target.valuesPerSec).toFixed(2)}, ` +
        `values per core-second ${(spb.valuesPerCoreSec / target.valuesPerCoreSec).toFixed(2)}`,
    );
    const ratio = sat.reqRate / raw.requestsPerSecond;
    print(
      `saturation request rate / raw request rate: ${(ratio * 100).toFixed(0)} % (target ≥ 80 %)`,
    );
    print(
      `targets: ≥100,000 values/s on one core: ${target.valuesPerCoreSec >= 100_000 && target.valuesPerSec >= 95_000 ? 'met' : 'NOT met'}; ` +
        `p99 ≤ 10 ms: ${target.p99 <= 10 ? 'met' : 'NOT met'}; RSS ≤ 150 MB: ${Math.max(target.rss, sat.rss) <= 150 ? 'met' : 'NOT met'}; ` +
        `≥ 80 % of raw: ${ratio >= 0.8 ? 'met' : 'NOT met'}`,
    );
    return {
      rawRequestsPerSec: Math.round(raw.requestsPerSecond),
      lightP50Ms: light.p50,
      lightP99Ms: light.p99,
      targetValuesPerSec: target.valuesPerSec,
      targetP50Ms: target.p50,
      targetP99Ms: target.p99,
      targetCpuPct: target.cpu,
      valuesPerCoreSec: target.valuesPerCoreSec,
      peakRssMb: Math.max(target.rss, sat.rss),
      saturationValuesPerSec: sat.valuesPerSec,
      saturationRequestRatio: Number(ratio.toFixed(2)),
      sparkplugTargetValuesPerSec: spb.valuesPerSec,
      sparkplugTargetCpuPct: spb.cpu,
      sparkplugTargetP99Ms: spb.p99,
    };
  } finally {
    for (const s of sims) await s.close();
    await broker.stop();
  }
};
export default bench;
