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
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { ROOT } from '../test/helpers/cli.js';
import { freePort } from '../test/helpers/ports.js';
import { tmpDir } from '../test/helpers/tmp.js';
import type { Simulator } from '../plc/simulator/simulator.js';
import { cpuSeconds, peakRssMb, percentile } from './proc-stats.js';

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
const TOPIC = 'wms/bench/node-red/data';

export interface NodeRedWorkload {
  /** Read blocks (one modbus-read node each). */
  blocks: number;
  /** Registers per read (2 per float32). */
  registers: number;
  intervalMs: number;
  seconds: number;
}

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
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-2000));
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
    return `npm install exited ${code ?? 'on a signal (timeout)'}: ${out.trim().split('\n').slice(-3).join(' | ')}`;
  if (installedVersion('node-red') !== NODE_RED_VERSION)
    return `node-red ${NODE_RED_VERSION} not found in ${CACHE_DIR} after npm install`;
  print(`node-red: installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return undefined;
}

/**
 * The flow: one modbus-client (TCP, unit 1, the editor's defaults: queued commands, 1 ms command
 * delay, 1 s timeout) to the simulator; per block one modbus-read (FC3 holding registers, adr
 * b×registers, quantity registers, every intervalMs ms), all wired to one function node that decodes
 * the answer's bytes as big-endian float32 (the agent's default word order) into
 * `{ ts, values: { t<i>: number } }` — the agent's JSON shape, tags named as the agent's phase names
 * them — and one `mqtt out` node publishing it at QoS 1, not retained.
 */
export function nodeRedFlow(sim: { port: number }, broker: { port: number }, w: NodeRedWorkload) {
  const tab = 'bench-tab';
  const client = 'bench-modbus-client';
  const fn = 'bench-decode';
  const out = 'bench-mqtt-out';
  const mqttBroker = 'bench-mqtt-broker';
  const func = [
    'const buf = msg.responseBuffer.buffer;',
    `const base = msg.input.payload.address / 2;`,
    'const values = {};',
    'for (let i = 0; i + 4 <= buf.length; i += 4) values["t" + (base + i / 4)] = buf.readFloatBE(i);',
    `return { topic: ${JSON.stringify(TOPIC)}, payload: JSON.stringify({ ts: new Date().toISOString(), values }) };`,
  ].join('\n');
  const reads = Array.from({ length: w.blocks }, (_, b) => ({
    id: `bench-read-${b}`,
    type: 'modbus-read',
    z: tab,
    name: `block ${b}`,
    topic: '',
    showStatusActivities: false,
    logIOActivities: false,
    showErrors: false,
    unitid: '1',
    dataType: 'HoldingRegister',
    adr: String(b * w.registers),
    quantity: String(w.registers),
    rate: String(w.intervalMs),
    rateUnit: 'ms',
    delayOnStart: false,
    startDelayTime: '',
    server: client,
    useIOFile: false,
    ioFile: '',
    useIOForPayload: false,
    emptyMsgOnFail: false,
    x: 150,
    y: 40 + b * 40,
    wires: [[fn], []],
  }));
  return [
    { id: tab, type: 'tab', label: 'bench', disabled: false, info: '' },
    {
      id: client,
      type: 'modbus-client',
      name: 'simulator',
      clienttype: 'tcp',
      bufferCommands: true,
      stateLogEnabled: false,
      queueLogEnabled: false,
      failureLogEnabled: true,
      tcpHost: '127.0.0.1',
      tcpPort: String(sim.port),
      tcpType: 'DEFAULT',
      serialPort: '/dev/ttyUSB',
      serialType: 'RTU-BUFFERD',
      serialBaudrate: '9600',
      serialDatabits: '8',
      serialStopbits: '1',
      serialParity: 'none',
      serialConnectionDelay: '100',
      serialAsciiResponseStartDelimiter: '0x3A',
      unit_id: '1',
      commandDelay: '1',
      clientTimeout: '1000',
      reconnectOnTimeout: true,
      reconnectTimeout: '2000',
      parallelUnitIdsAllowed: true,
    },
    ...reads,
    {
      id: fn,
      type: 'function',
      z: tab,
      name: 'float32 → JSON',
      func,
      outputs: 1,
      timeout: 0,
      noerr: 0,
      initialize: '',
      finalize: '',
      libs: [],
      x: 400,
      y: 40,
      wires: [[out]],
    },
    {
      id: out,
      type: 'mqtt out',
      z: tab,
      name: '',
      topic: '',
      qos: '1',
      retain: 'false',
      respTopic: '',
      contentType: '',
      userProps: '',
      correl: '',
      expiry: '',
      broker: mqttBroker,
      x: 600,
      y: 40,
      wires: [],
    },
    {
      id: mqttBroker,
      type: 'mqtt-broker',
      name: 'bench mosquitto',
      broker: '127.0.0.1',
      port: String(broker.port),
      clientid: 'bench-node-red',
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
      autoUnsubscribe: true,
      birthTopic: '',
      closeTopic: '',
      willTopic: '',
    },
  ];
}

/** Headless: no editor, no admin API, no HTTP nodes, loopback only, nothing written to the repo. */
function settingsFile(userDir: string, uiPort: number): string {
  const settings = {
    uiHost: '127.0.0.1',
    uiPort,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    logging: { console: { level: 'warn', metrics: false, audit: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    functionExternalModules: false,
    editorTheme: { projects: { enabled: false } },
  };
  return `module.exports = ${JSON.stringify(settings, null, 2)};\n`;
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
    JSON.stringify(nodeRedFlow(sim, { port: brokerPort }, w)),
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
  await sub.subscribeAsync(TOPIC, { qos: 1 });

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
    counting = true;
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, w.seconds * 1000));
    counting = false;
    const secs = (performance.now() - t0) / 1000;
    const cpu = ((cpuSeconds(pid) - cpu0) / secs) * 100;
    const reqRate = (sim.core.requestsByFc[3]! - req0) / secs;
    const rss = peakRssMb(pid);
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
        `(the rest wait in node-red-contrib-modbus's unbounded queue), decode→receipt p50 ${r.p50} ms p99 ${r.p99} ms, ` +
        `Node-RED CPU ${r.cpu} % (${r.valuesPerCoreSec} values per core-second), peak RSS ${r.rss} MB (Node defaults)`,
    );
    if (wrong)
      print(`node-red: ${wrong} of ${values} values were not the float32 in the registers`);
    return r;
  } finally {
    await cleanup();
  }
}
