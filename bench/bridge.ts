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
import { MAX_CONFIG_BYTES } from '../platform/config-source.js';
import { runNodeRedPhase } from './node-red-baseline.js';

class ConfigTooLarge extends Error {
  constructor(phase: string, bytes: number) {
    super(
      `${phase}: skipped — its config is ${bytes} bytes, over the agent's ${MAX_CONFIG_BYTES}-byte limit`,
    );
  }
}

const PLCS = Number(process.env.BENCH_PLCS ?? 8);
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
  /** float32: tags are 2 registers each, in groups of 62 (one 124-register read per group). */
  type?: 'int16' | 'float32';
  /** Only the first n simulators (default all). */
  plcs?: number;
  /** wms.format of the agent (default json). */
  format?: 'json' | 'sparkplug-b';
  /** tcpPipeline of every PLC (default 1); BENCH_PIPELINE overrides it for every phase. */
  pipeline?: number;
}

/**
 * The one-plc and target phases read with 8 Modbus TCP transactions in flight per connection: our
 * simulator answers pipelined requests (MBAP transaction ids), as many PLCs and gateways do; the
 * other phases keep tcpPipeline 1, the default, which every PLC accepts. Each phase prints its depth.
 */
const PIPELINED = 8;
const pipelineOf = (phase: Phase) =>
  process.env.BENCH_PIPELINE ? Number(process.env.BENCH_PIPELINE) : (phase.pipeline ?? 1);

/**
 * BENCH_BRIDGE_PHASES=light,target,saturation,one-plc,node-red,sparkplug,tags-100k (default: all but
 * tags-100k, which takes minutes to start on a loaded machine). node-red installs Node-RED into a
 * git-ignored cache on its first run (bench/node-red-baseline.ts).
 */
const PHASES = (
  process.env.BENCH_BRIDGE_PHASES ?? 'light,target,saturation,one-plc,node-red,sparkplug'
).split(',');

async function runPhase(
  phase: Phase,
  simList: Simulator[],
  brokerUrl: string,
  print: (l: string) => void,
) {
  const dir = tmpDir('bench-bridge-');
  const sims = simList.slice(0, phase.plcs ?? simList.length);
  const float = phase.type === 'float32';
  const tagList = Array.from({ length: phase.tags }, (_, i) => ({
    name: `t${i}`,
    area: 'holding',
    address: float ? i * 2 : i,
    type: phase.type ?? 'int16',
  }));
  const perGroup = float ? 62 : phase.tags;
  const groups: { intervalMs: number; tags: typeof tagList }[] = [];
  for (let i = 0; i < tagList.length; i += perGroup)
    groups.push({ intervalMs: phase.intervalMs, tags: tagList.slice(i, i + perGroup) });
  const registers = float ? phase.tags * 2 : phase.tags;
  const config = {
    gateway: { tenant: 'bench', id: 'gw' },
    wms: { urls: [brokerUrl], heartbeatSeconds: 3600, format: phase.format ?? 'json' },
    plcs: sims.map((s, i) => ({
      id: `plc-${i}`,
      transport: { type: 'tcp', host: '127.0.0.1', port: s.port },
      fullReportSeconds: 0,
      tcpPipeline: pipelineOf(phase),
      groups,
    })),
  };
  const cfg = join(dir.path, 'gateway.yaml');
  const text = stringify(config, { collectionStyle: 'flow' });
  // The agent refuses a config over MAX_CONFIG_BYTES (a balena variable's size): say so, skip the phase.
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    dir.cleanup();
    throw new ConfigTooLarge(phase.name, Buffer.byteLength(text));
  }
  writeFileSync(cfg, text);
  // float32: high words with a normal exponent (values about 10..2000, like process values), else
  // the moving low words alone would make subnormals — a path no PLC value takes.
  if (float)
    for (const s of sims) {
      const regs = s.registers(1, 'holding') as Uint16Array;
      for (let i = 0; i < registers; i += 2) regs[i] = 0x4120 + ((i >> 1) % 256);
    }
  // Every register changes between polls so every read is a reported value (worst case for the path).
  const mover = setInterval(
    () => {
      for (const s of sims) {
        const regs = s.registers(1, 'holding') as Uint16Array;
        // float32: only the low word moves, so every value changes and stays finite
        if (float) for (let i = 1; i < registers; i += 2) regs[i] = (regs[i]! + 1) & 0xffff;
        else for (let i = 0; i < registers; i++) regs[i] = (regs[i]! + 1) & 0x7fff;
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
  let first = false;
  sub.on('message', (_t, payload) => {
    first = true;
    if (!counting) return;
    if (sparkplug) {
      // Every DDATA decoded, as a host would; latency from the metrics' read time.
      const p = decodePayload(payload);
      messages++;
      values += p.metrics.length;
      const ts = p.metrics[0]?.timestamp;
      if (ts !== undefined) latencies.push(Date.now() - ts);
      return;
    }
    const m = JSON.parse(payload.toString()) as { ts: string; values: object };
    messages++;
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
  // The agent's last output, shown if it dies (a heap cap too small for the config, a config error).
  let agentOut = '';
  const keep = (d: Buffer) => (agentOut = (agentOut + d.toString()).slice(-4000));
  agent.stdout!.on('data', keep);
  agent.stderr!.on('data', keep);
  let exited: number | null | undefined;
  agent.once('exit', (code, signal) => (exited = code ?? (signal ? -1 : null)));
  await waitForOutput(agent, /./, 100).catch(() => undefined);
  const requestsBefore = () => sims.reduce((n, s) => n + s.core.requestsByFc[3]!, 0);
  // Warm up: start (slow on a loaded machine: planning thousands of tags), connect, first reads.
  const warm = performance.now();
  while (!first && performance.now() - warm < 120_000) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 3000));
  if (exited !== undefined) {
    clearInterval(mover);
    await sub.endAsync();
    dir.cleanup();
    throw new Error(`${phase.name}: the agent exited (${exited}) before measuring:\n${agentOut}`);
  }
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
  if (exited === undefined) await new Promise((r) => agent.once('exit', r));
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
    `${phase.name}: ${sims.length} PLCs × ${phase.tags} ${phase.type ?? 'int16'} tags @ ${phase.intervalMs} ms — ${r.valuesPerSec} tag values/s delivered ` +
      `(${r.messagesPerSec} msg/s), latency read→receipt p50 ${r.p50} ms p99 ${r.p99} ms, agent CPU ${r.cpu} % ` +
      `(${r.valuesPerCoreSec} values per core-second), peak RSS ${r.rss} MB, Modbus requests ${r.reqRate}/s, tcpPipeline ${pipelineOf(phase)}`,
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
    const out: Record<string, number> = { rawRequestsPerSec: Math.round(raw.requestsPerSecond) };
    // Light load: the data path's own latency floor (one read request per poll).
    if (PHASES.includes('light')) {
      const light = await runPhase(
        { name: 'light load', tags: 100, intervalMs: 100, seconds: 10 },
        sims,
        broker.url,
        print,
      );
      Object.assign(out, { lightP50Ms: light.p50, lightP99Ms: light.p99 });
    }
    // Target load: 8 PLCs × 1250 tags every 100 ms = 100,000 tag values/s.
    if (PHASES.includes('target')) {
      const target = await runPhase(
        { name: 'target load', tags: 1250, intervalMs: 100, seconds: 20, pipeline: PIPELINED },
        sims,
        broker.url,
        print,
      );
      print(
        `target: p99 read→receipt ≤ 20 ms: ${target.p99 <= 20 ? 'met' : 'NOT met'}; peak RSS ≤ 150 MB: ${target.rss <= 150 ? 'met' : 'NOT met'}`,
      );
      Object.assign(out, {
        targetValuesPerSec: target.valuesPerSec,
        targetP50Ms: target.p50,
        targetP99Ms: target.p99,
        targetCpuPct: target.cpu,
        targetRssMb: target.rss,
      });
    }
    // Saturation: polls back to back; values per core-second is the figure to read.
    if (PHASES.includes('saturation')) {
      const sat = await runPhase(
        { name: 'saturation', tags: 5000, intervalMs: 10, seconds: 15 },
        sims,
        broker.url,
        print,
      );
      print(
        `saturation: ${sat.valuesPerCoreSec} values per core-second (target ≥ 400,000): ${sat.valuesPerCoreSec >= 400_000 ? 'met' : 'NOT met'}`,
      );
      Object.assign(out, {
        saturationValuesPerSec: sat.valuesPerSec,
        saturationValuesPerCoreSec: sat.valuesPerCoreSec,
        saturationRssMb: sat.rss,
      });
    }
    // One PLC connection: 40 groups × 62 float32 at 10 ms (a 124-register read each) against the
    // bare client reading 125 registers back to back on one connection (62 float32 per read).
    if (PHASES.includes('one-plc')) {
      const bare = await rawModbusRate({ port: sims[0]!.port, seconds: 5, clients: 1, count: 124 });
      const bareValues = Math.round(bare.requestsPerSecond * 62);
      print(
        `raw baseline: bare modbus-serial, one connection, 124-register reads back to back: ${Math.round(bare.requestsPerSecond)} requests/s = ${bareValues} float32 values/s`,
      );
      const one = await runPhase(
        {
          name: 'one PLC',
          tags: 40 * 62,
          intervalMs: 10,
          seconds: 15,
          type: 'float32',
          plcs: 1,
          pipeline: PIPELINED,
        },
        sims,
        broker.url,
        print,
      );
      const share = one.valuesPerSec / bareValues;
      print(
        `one PLC: ${(share * 100).toFixed(0)} % of the bare client's value rate (target ≥ 50 %): ${share >= 0.5 ? 'met' : 'NOT met'}; ${one.valuesPerCoreSec} values per core-second (target ≥ 400,000): ${one.valuesPerCoreSec >= 400_000 ? 'met' : 'NOT met'}`,
      );
      Object.assign(out, {
        bareOnePlcValuesPerSec: bareValues,
        onePlcValuesPerSec: one.valuesPerSec,
        onePlcShareOfBare: Number(share.toFixed(2)),
        onePlcValuesPerCoreSec: one.valuesPerCoreSec,
        onePlcRssMb: one.rss,
      });
    }
    // Node-RED + node-red-contrib-modbus on the one-PLC workload, against the agent's one-PLC phase.
    if (PHASES.includes('node-red')) {
      const w = { blocks: 40, registers: 124, intervalMs: 10, seconds: 15 };
      const nr = await runNodeRedPhase(sims[0]!, broker.url, w, print);
      if (nr) {
        Object.assign(out, {
          nodeRedValuesPerSec: nr.valuesPerSec,
          nodeRedValuesPerCoreSec: nr.valuesPerCoreSec,
          nodeRedCpuPct: nr.cpu,
          nodeRedRssMb: nr.rss,
        });
        if (out.onePlcValuesPerSec) {
          const ratio = out.onePlcValuesPerSec / Math.max(1, nr.valuesPerSec);
          const perCore = out.onePlcValuesPerCoreSec! / Math.max(1, nr.valuesPerCoreSec);
          print(
            `agent / Node-RED, same one-PLC workload: ${ratio.toFixed(1)}× the values/s (target ≥ 5×: ${ratio >= 5 ? 'met' : 'NOT met'}), ${perCore.toFixed(1)}× the values per core-second`,
          );
          Object.assign(out, {
            agentOverNodeRed: Number(ratio.toFixed(2)),
            agentOverNodeRedPerCore: Number(perCore.toFixed(2)),
          });
        }
      }
    }
    // Memory at scale: 100,000 configured tags (8 PLCs × 12,500 int16, each PLC one group of 100
    // reads of 125 registers) polled every second = 100,000 values/s offered; peak RSS is the figure.
    if (PHASES.includes('tags-100k')) {
      const big = await runPhase(
        { name: '100k tags', tags: 12_500, intervalMs: 1000, seconds: 15 },
        sims,
        broker.url,
        print,
      ).catch((e: unknown) => {
        if (!(e instanceof ConfigTooLarge)) throw e;
        print(e.message);
        return undefined;
      });
      if (big) {
        print(
          `100k tags: peak RSS ${big.rss} MB with ${AGENT_FLAGS.join(' ') || "Node's defaults"} (target ≤ 150 MB with the production flags)`,
        );
        Object.assign(out, {
          tags100kValuesPerSec: big.valuesPerSec,
          tags100kRssMb: big.rss,
          tags100kCpuPct: big.cpu,
          tags100kP99Ms: big.p99,
        });
      }
    }
    // Sparkplug B mode beside JSON: light and target load again with wms.format sparkplug-b (DDATA by
    // alias through the same outbox), read as ratios against the JSON phases of the same run.
    if (PHASES.includes('sparkplug')) {
      for (const [key, tags, seconds] of [
        ['light', 100, 10],
        ['target', 1250, 20],
      ] as const) {
        const spb = await runPhase(
          {
            name: `${key} load (sparkplug-b)`,
            tags,
            intervalMs: 100,
            seconds,
            format: 'sparkplug-b',
          },
          sims,
          broker.url,
          print,
        );
        Object.assign(out, {
          [`${key}SparkplugValuesPerSec`]: spb.valuesPerSec,
          [`${key}SparkplugP50Ms`]: spb.p50,
          [`${key}SparkplugP99Ms`]: spb.p99,
          [`${key}SparkplugCpuPct`]: spb.cpu,
          [`${key}SparkplugRssMb`]: spb.rss,
        });
      }
    }
    return out;
  } finally {
    for (const s of sims) await s.close();
    await broker.stop();
  }
};
export default bench;
