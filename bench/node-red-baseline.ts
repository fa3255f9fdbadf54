// Node-RED beside the agent in `npm run bench bridge` (phase `node-red`): the same one-PLC workload
// (40 blocks × 124 holding registers = 62 float32 each, every 10 ms, every register changing between
// reads) read by Node-RED + node-red-contrib-modbus, decoded in a function node and published as
// JSON to the same mosquitto at QoS 1, counted by a subscriber like the agent's phases.
//
// Node-RED is a bench peer (like mosquitto), not a dependency of the project: it is installed on
// demand with `npm install --prefix <cache> --no-save` into a git-ignored cache (bench/.cache/node-red,
// or BENCH_NODE_RED_DIR), only when this phase runs; if the install fails the phase is skipped and
// says why. It runs headless (no editor, no admin API) from a settings file and a flow generated here
// into a temporary userDir, so nothing of it (flows, credentials, runtime config) lands in the repo.
//
// What differs from the agent's one-PLC phase (same simulator, registers, mover, broker, counting):
// - no outbox: Node-RED publishes from memory; the agent appends every message to its crash-safe
//   outbox on disk first and publishes from there (sequence numbers, replay after an outage);
// - no report by exception and no quality map: it publishes every value of every read (here every
//   value changes, so the agent publishes every value too — the same volume on the wire);
// - payload `{ ts, values }` with JavaScript's double rendering of each float32 (e.g.
//   12.345600128173828); the agent sends `{ tenant, gateway, plc, seq, ts, values, quality }` with
//   each float32's shortest exact rendering (12.3456);
// - `ts` is taken in the function node, after the read: Node-RED's decode→receipt latency leaves out
//   the Modbus round trip and the time in its queue, which the agent's read→receipt includes;
// - polling: each modbus-read node's timer fires every 10 ms whether or not its last read came back,
//   so with the queue on (the default) reads pile up in an unbounded queue and RSS grows; the agent's
//   poll group starts its next cycle only when the last one is done;
// - Node's default V8 flags (how Node-RED starts); the agent runs with its production flags.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { ROOT } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/ports.js';
import { tmpDir } from '../test/helpers/tmp.js';
import type { Simulator } from '../plc/simulator/simulator.js';
import { cpuSeconds, peakRssMb, percentile } from './proc-stats.js';
import {
  NODE_RED_TOPIC,
  nodeRedFlow,
  settingsFile,
  type NodeRedWorkload,
} from './node-red-flow.js';

/** Node-RED as the comparison in issue 16 names it. */
export const NODE_RED_VERSION = '4.1.8';
/**
 * node-red-contrib-modbus pinned: 5.45.2 and 5.60.2 (the newer releases) depend on a tarball from
 * their vendor's own package host, not the npm registry, and 5.60.2 needs Node 22; 5.23.3 is the
 * newest release that installs from the npm registry alone (modbus-serial 8.0.x underneath, like
 * the agent's driver).
 */
export const CONTRIB_MODBUS_VERSION = '5.23.3';
const CACHE_DIR = process.env.BENCH_NODE_RED_DIR ?? join(ROOT, 'bench', '.cache', 'node-red');
const INSTALL_TIMEOUT_MS = 300_000;
/**
 * node-red-contrib-modbus's "queue commands" (`bufferCommands`), on in the editor's defaults: one
 * request in flight per unit id (like the agent's default `tcpPipeline` 1), the rest queued without
 * bound. BENCH_NODE_RED_QUEUE=0 turns it off: every read goes to the socket when its timer fires, as
 * many in flight as the timers make, with no flow control.
 */
const QUEUE = process.env.BENCH_NODE_RED_QUEUE !== '0';

export interface NodeRedResult {
  valuesPerSec: number;
  messagesPerSec: number;
  /** Modbus FC3 requests per second the simulator answered during the window. */
  reqRate: number;
  cpu: number;
  valuesPerCoreSec: number;
  rss: number;
  p50: number;
  p99: number;
}

function installedVersion(pkg: string): string | undefined {
  try {
    const file = join(CACHE_DIR, 'node_modules', pkg, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Installs the pinned versions into the cache unless they are there; the reason when it cannot. */
async function ensureInstalled(print: (l: string) => void): Promise<string | undefined> {
  if (
    installedVersion('node-red') === NODE_RED_VERSION &&
    installedVersion('node-red-contrib-modbus') === CONTRIB_MODBUS_VERSION
  )
    return undefined;
  mkdirSync(CACHE_DIR, { recursive: true });
  const manifest = join(CACHE_DIR, 'package.json');
  if (!existsSync(manifest))
    writeFileSync(manifest, JSON.stringify({ name: 'bench-node-red-cache', private: true }) + '\n');
  print(
    `node-red: installing node-red@${NODE_RED_VERSION} node-red-contrib-modbus@${CONTRIB_MODBUS_VERSION} into ${CACHE_DIR} (once; about a minute)`,
  );
  const started = Date.now();
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const child = spawn(
    npm,
    [
      'install',
      '--prefix',
      CACHE_DIR,
      '--no-save',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `node-red@${NODE_RED_VERSION}`,
      `node-red-contrib-modbus@${CONTRIB_MODBUS_VERSION}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  // npm says what went wrong first (code, request, reason); the advice and log path come after.
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(0, 4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const timer = setTimeout(() => child.kill('SIGTERM'), INSTALL_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', (e) => {
      out += String(e);
      resolve(-1);
    });
    child.once('exit', (c) => resolve(c));
  });
  clearTimeout(timer);
  if (code !== 0)
    return `npm install exited ${code ?? 'on a signal (timeout)'}: ${out.trim().split('\n').slice(0, 4).join(' | ')}`;
  if (installedVersion('node-red') !== NODE_RED_VERSION)
    return `node-red ${NODE_RED_VERSION} not found in ${CACHE_DIR} after npm install`;
  print(`node-red: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return undefined;
}

/** Resident set now (VmRSS) in MB: with the queue on, Node-RED's grows while reads pile up. */
function rssNowMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** The one-PLC phase's register set-up and mover (bench/bridge.ts), for the registers read here. */
function moveRegisters(sim: Simulator, registers: number, intervalMs: number) {
  const regs = sim.registers(1, 'holding') as Uint16Array;
  for (let i = 0; i < registers; i += 2) regs[i] = 0x4120 + ((i >> 1) % 256);
  return setInterval(
    () => {
      for (let i = 1; i < registers; i += 2) regs[i] = (regs[i]! + 1) & 0xffff;
    },
    Math.max(5, Math.floor(intervalMs / 2)),
  );
}

async function stop(child: ChildProcess, exited: () => boolean) {
  if (exited()) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(t);
}

/**
 * Runs the Node-RED phase; prints its line and returns its figures, or prints why it was skipped and
 * returns undefined (install failed, Node-RED did not start or deliver).
 */
export async function runNodeRedPhase(
  sim: Simulator,
  brokerUrl: string,
  w: NodeRedWorkload,
  print: (l: string) => void,
): Promise<NodeRedResult | undefined> {
  const why = await ensureInstalled(print);
  if (why) {
    print(`node-red: skipped — ${why}`);
    return undefined;
  }
  const dir = tmpDir('bench-node-red-');
  const userDir = join(dir.path, 'user');
  mkdirSync(userDir);
  const brokerPort = Number(new URL(brokerUrl).port);
  writeFileSync(
    join(userDir, 'flows.json'),
    JSON.stringify(nodeRedFlow(sim, { port: brokerPort }, w, QUEUE)),
  );
  const settings = join(dir.path, 'settings.js');
  writeFileSync(settings, settingsFile(userDir, await freePort()));
  const mover = moveRegisters(sim, w.blocks * w.registers, w.intervalMs);

  const sub = await mqtt.connectAsync(brokerUrl, { clientId: 'bench-sub-node-red' });
  let values = 0;
  let wrong = 0;
  let messages = 0;
  let counting = false;
  let first = false;
  const latencies: number[] = [];
  sub.on('message', (_t, payload) => {
    first = true;
    if (!counting) return;
    const m = JSON.parse(payload.toString()) as { ts: string; values: Record<string, unknown> };
    messages++;
    // The registers hold float32 of 10..40 (high words 0x4120..0x421f): anything else is a decode bug.
    for (const k in m.values) {
      const v = m.values[k];
      values++;
      if (typeof v !== 'number' || !(v >= 10 && v < 40)) wrong++;
    }
    latencies.push(Date.now() - Date.parse(m.ts));
  });
  await sub.subscribeAsync(NODE_RED_TOPIC, { qos: 1 });

  // Node's default V8 flags: Node-RED's own start script adds none.
  const red = spawn(
    process.execPath,
    [join(CACHE_DIR, 'node_modules', 'node-red', 'red.js'), '--settings', settings],
    { cwd: dir.path, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: '' } },
  );
  let redOut = '';
  const keep = (d: Buffer) => (redOut = (redOut + d.toString()).slice(-4000));
  red.stdout!.on('data', keep);
  red.stderr!.on('data', keep);
  let exited = false;
  red.once('exit', () => (exited = true));
  const cleanup = async () => {
    await stop(red, () => exited);
    clearInterval(mover);
    await sub.endAsync();
    dir.cleanup();
  };
  try {
    const warm = performance.now();
    while (!first && !exited && performance.now() - warm < 120_000)
      await new Promise((r) => setTimeout(r, 100));
    if (!first) {
      print(
        `node-red: skipped — ${exited ? 'Node-RED exited' : 'no message within 120 s'}; its last output:\n${redOut.trim()}`,
      );
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 3000));
    const pid = red.pid!;
    const cpu0 = cpuSeconds(pid);
    const req0 = sim.core.requestsByFc[3]!;
    const rss0 = rssNowMb(pid);
    counting = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, w.seconds * 1000));
    counting = false;
    const secs = (performance.now() - t0) / 1000;
    const cpu = ((cpuSeconds(pid) - cpu0) / secs) * 100;
    const reqRate = (sim.core.requestsByFc[3]! - req0) / secs;
    const rss = peakRssMb(pid);
    const rss1 = rssNowMb(pid);
    latencies.sort((a, b) => a - b);
    const r: NodeRedResult = {
      valuesPerSec: Math.round(values / secs),
      messagesPerSec: Math.round(messages / secs),
      reqRate: Math.round(reqRate),
      cpu: Math.round(cpu),
      valuesPerCoreSec: Math.round(values / secs / Math.max(0.01, cpu / 100)),
      rss: Math.round(rss),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
    const offered = (w.blocks * 1000) / w.intervalMs;
    print(
      `node-red: Node-RED ${NODE_RED_VERSION} + node-red-contrib-modbus ${CONTRIB_MODBUS_VERSION}, 1 PLC × ${w.blocks} modbus-read × ${w.registers} registers (${w.registers / 2} float32) @ ${w.intervalMs} ms → function (float32 → JSON) → mqtt out QoS 1 — ` +
        `${r.valuesPerSec} float32 values/s delivered (${r.messagesPerSec} msg/s), Modbus requests ${r.reqRate}/s of ${offered} offered ` +
        `${QUEUE ? "(queue on, the editor's default: one in flight, the rest wait in an unbounded queue)" : '(queue off: every read sent when its timer fires)'}, decode→receipt p50 ${r.p50} ms p99 ${r.p99} ms, ` +
        `Node-RED CPU ${r.cpu} % (${r.valuesPerCoreSec} values per core-second), peak RSS ${r.rss} MB (Node defaults; RSS ${rss0} → ${rss1} MB over the window)`,
    );
    if (wrong)
      print(`node-red: ${wrong} of ${values} values were not the float32 in the registers`);
    return r;
  } finally {
    await cleanup();
  }
}
