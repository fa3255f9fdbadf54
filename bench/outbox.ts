// Outbox bench: 200k data messages queued through WmsLink while the broker is down (append rate, RSS),
// then the broker comes back (reconnect time) and the backlog drains to it (replay rate, RSS).
// The link runs in a child process of compiled JS (dist/, built by `npm run bench`), so its RSS is that of
// an agent-like process, not of this tsx-hosted runner; once with Node's default heap settings and once
// with a small young generation and heap cap. Baseline from the same run: raw mqtt.js QoS 1 publishing
// (same window, same payload size) to the same broker. A third run replays in wms.delivery: wms-ack, with
// a WMS subscriber in this process acknowledging cumulatively every ACK_EVERY_MS (plc/{plc}/ack).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import mqtt from 'mqtt';
import { startMosquitto, type Broker } from '../test/helpers/mosquitto.js';
import { ROOT } from '../test/helpers/cli.js';
import type { BenchFn } from './run.js';

const MESSAGES = Number(process.env.BENCH_OUTBOX_MESSAGES ?? 200_000);
const BASELINE_MESSAGES = 50_000;
const INFLIGHT = 64;
/** V8 flags that keep RSS near the live heap at some cost in throughput (see docs/PERFORMANCE.md). */
// The agent's production V8 flags (Dockerfile.template NODE_OPTIONS, npm start).
const LOW_MEMORY_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=96'];

/** How often the bench's WMS subscriber acknowledges what it holds (wms-ack run). */
const ACK_EVERY_MS = 20;

const SAMPLE = { speed: 1234.5, count: 987654, temp: 215, running: true, target: 1500 };

// The child: a WmsLink in a plain Node process. Prints one JSON line per phase; "go" on stdin = broker is up.
const CHILD = `
const [{ wmsSchema }, { createLogger }, { WmsLink }] = await Promise.all([
  import(${JSON.stringify(join(ROOT, 'dist/agent/config/schema.js'))}),
  import(${JSON.stringify(join(ROOT, 'dist/platform/logger.js'))}),
  import(${JSON.stringify(join(ROOT, 'dist/agent/link/wms-link.js'))}),
]);
const [url, dataDir, n, delivery] = process.argv.slice(1);
let peak = 0;
setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20).unref();
// RSS once a second through fill and replay: flat or growing with the backlog?
let series = [];
setInterval(() => series.push(Math.round(process.memoryUsage().rss / 2 ** 20)), 1000).unref();
const wms = wmsSchema.parse({ urls: [url], reconnect: { minMs: 100, maxMs: 1000 }, outbox: { inflight: ${INFLIGHT} }, delivery });
const link = new WmsLink({ tenant: 'acme', gatewayId: 'gw-01', dataDir, version: 'bench', wms, logger: createLogger({ level: 'silent' }) });
await link.start();
const sample = ${JSON.stringify(SAMPLE)};
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const baseRss = process.memoryUsage().rss;
peak = 0;
let t = performance.now();
for (let i = 0; i < Number(n); i++) {
  link.publishData('conveyor-' + (i % 8), { ts: new Date().toISOString(), values: { ...sample, count: i }, quality: {} });
  if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
}
out({ phase: 'queued', appendS: (performance.now() - t) / 1000, baseRss, peakRss: Math.max(peak, process.memoryUsage().rss), queued: link.stats().outbox, series });
series = [];
const connected = new Promise((r) => link.once('connected', () => r(performance.now())));
// BENCH_OUTBOX_CPU_PROF=dir: a CPU profile of the replay alone (not the fill), as node --cpu-prof writes it,
// and with BENCH_OUTBOX_HEAP_PROF=1 also a sampling heap profile (where the replay allocates).
const profDir = process.env.BENCH_OUTBOX_CPU_PROF;
const heapProf = !!process.env.BENCH_OUTBOX_HEAP_PROF;
const { Session } = await import('node:inspector/promises');
const session = profDir ? new Session() : undefined;
process.stdin.once('data', async () => {
  t = performance.now();
  peak = 0;
  const reconnectMs = (await connected) - t;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    if (heapProf) await session.post('HeapProfiler.startSampling', { samplingInterval: 4096 });
  }
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  while (link.stats().outbox.messages > 0) await new Promise((r) => setTimeout(r, 20));
  const c2 = process.cpuUsage(c1);
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(profDir + '/replay-' + Date.now() + '.cpuprofile', JSON.stringify(profile));
    if (heapProf) {
      const heap = await session.post('HeapProfiler.stopSampling');
      writeFileSync(profDir + '/replay-' + Date.now() + '.heapprofile', JSON.stringify(heap.profile));
    }
  }
  out({ phase: 'drained', reconnectMs, replayS: (performance.now() - t1) / 1000, replayCpuS: (c2.user + c2.system) / 1e6, peakRss: Math.max(peak, process.memoryUsage().rss), series });
  await link.stop();
  process.exit(0);
});
`;

interface ChildFigures {
  appendPerS: number;
  appendPeakRssMiB: number;
  baseRssMiB: number;
  queuedMiB: number;
  reconnectMs: number;
  replayPerS: number;
  /** Messages replayed per CPU-second of the agent process (load-independent, unlike msg/s). */
  replayPerCpuS: number;
  replayPeakRssMiB: number;
  /** RSS (MiB) once a second while queuing and while replaying. */
  fillSeries: number[];
  replaySeries: number[];
}

const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rawBaseline(
  url: string,
  payload: Buffer,
): Promise<{ perS: number; perCpuS: number }> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, protocolVersion: 5 });
  await new Promise((r) => c.once('connect', r));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let sent = 0;
  let acked = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (sent - acked < INFLIGHT && sent < BASELINE_MESSAGES) {
        sent++;
        c.publish('bench/raw', payload, { qos: 1 }, () => {
          if (++acked === BASELINE_MESSAGES) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const rate = BASELINE_MESSAGES / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  await c.endAsync(true);
  return {
    perS: Math.round(rate),
    perCpuS: Math.round(BASELINE_MESSAGES / ((cpu.user + cpu.system) / 1e6)),
  };
}

/** Queue MESSAGES with the broker down, bring it back, drain; all figures from the child process. */
async function runChild(
  broker: Broker,
  flags: string[],
  delivery: 'broker' | 'wms-ack' = 'broker',
  subscriber = false,
): Promise<ChildFigures> {
  await broker.stop();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-outbox-'));
  const child = spawn(
    process.execPath,
    [
      ...flags,
      ...(process.env.BENCH_OUTBOX_NODE_FLAGS ?? '').split(' ').filter(Boolean),
      '--input-type=module',
      '-e',
      CHILD,
      broker.url,
      dataDir,
      String(MESSAGES),
      delivery,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let wms: { stop(): Promise<void> } | undefined;
  const lines = createInterface({ input: child.stdout! });
  const next = () =>
    new Promise<Record<string, number> & { queued: { bytes: number }; series: number[] }>(
      (resolve, reject) => {
        lines.once('line', (l) => resolve(JSON.parse(l)));
        child.once('exit', (code) => reject(new Error(`bench child exited with ${code}`)));
      },
    );
  try {
    const q = await next();
    await sleep(1500); // the link is now in backoff against the dead broker
    await broker.start();
    if (subscriber) wms = await wmsAcker(broker.url);
    child.stdin!.write('go\n');
    const d = await next();
    return {
      appendPerS: Math.round(MESSAGES / q.appendS!),
      appendPeakRssMiB: mb(q.peakRss!),
      baseRssMiB: mb(q.baseRss!),
      queuedMiB: mb(q.queued.bytes),
      reconnectMs: Math.round(d.reconnectMs!),
      replayPerS: Math.round(MESSAGES / d.replayS!),
      replayPerCpuS: Math.round(MESSAGES / d.replayCpuS!),
      replayPeakRssMiB: mb(d.peakRss!),
      fillSeries: q.series,
      replaySeries: d.series,
    };
  } finally {
    await wms?.stop();
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The WMS side: holds every data message and acknowledges the highest gap-free seq per PLC. */
async function wmsAcker(url: string): Promise<{ stop(): Promise<void> }> {
  const c = mqtt.connect(url, { reconnectPeriod: 100, protocolVersion: 5 });
  const high = new Map<string, number>();
  const pending = new Map<string, Set<number>>();
  c.on('message', (_t, payload) => {
    const { plc, seq } = JSON.parse(payload.toString()) as { plc: string; seq: number };
    const held = pending.get(plc) ?? new Set<number>();
    pending.set(plc, held);
    held.add(seq);
    let h = high.get(plc) ?? 0;
    while (held.delete(h + 1)) h++;
    high.set(plc, h);
  });
  await new Promise<void>((r) =>
    c.once('connect', () => c.subscribe('wms/acme/gw-01/plc/+/data', { qos: 1 }, () => r())),
  );
  const sent = new Map<string, number>();
  const t = setInterval(() => {
    for (const [plc, h] of high)
      if (h > (sent.get(plc) ?? 0)) {
        sent.set(plc, h);
        c.publish(`wms/acme/gw-01/plc/${plc}/ack`, JSON.stringify({ seq: h }), { qos: 1 });
      }
  }, ACK_EVERY_MS);
  return {
    async stop() {
      clearInterval(t);
      await c.endAsync(true);
    },
  };
}

const bench: BenchFn = async (print) => {
  if (!existsSync(join(ROOT, 'dist/agent/link/wms-link.js')))
    throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');
  const broker = await startMosquitto();
  const probe = Buffer.from(
    JSON.stringify({
      tenant: 'acme',
      gateway: 'gw-01',
      plc: 'conveyor-1',
      seq: 123456,
      ts: new Date().toISOString(),
      values: SAMPLE,
      quality: {},
    }),
  );
  const base = await rawBaseline(broker.url, probe);
  const raw = base.perS;
  print(
    `baseline: raw mqtt.js QoS 1 publish (window ${INFLIGHT}, ${probe.length} B payload): ${raw} msg/s, ${base.perCpuS} msg per CPU-second`,
  );
  const figures: Record<string, number> = { rawQos1PerS: raw, rawQos1PerCpuS: base.perCpuS };
  // The last two runs have the same WMS subscriber (the broker delivers every message to it): the fair
  // comparison of wms-ack is with broker mode under the same fan-out, not with the runs without one.
  // BENCH_OUTBOX_MODES=production: only the runs with the production flags (shorter, for a loaded machine)
  const modes = (
    [
      ['default', [], 'broker', false],
      ['production flags', LOW_MEMORY_FLAGS, 'broker', false],
      ['production flags, broker mode + WMS subscriber', LOW_MEMORY_FLAGS, 'broker', true],
      ['production flags, wms-ack + WMS subscriber', LOW_MEMORY_FLAGS, 'wms-ack', true],
    ] as const
  ).filter(([n]) => {
    // A prefix, or =name for exactly one run (BENCH_OUTBOX_MODES="=production flags": the 1M run).
    const m = process.env.BENCH_OUTBOX_MODES;
    return !m || (m.startsWith('=') ? n === m.slice(1) : n.startsWith(m));
  });
  for (const [name, flags, delivery, subscriber] of modes) {
    const f = await runChild(broker, [...flags], delivery, subscriber);
    print(
      `${name} (${flags.join(' ') || 'Node defaults'}): append ${f.appendPerS} msg/s, ` +
        `${MESSAGES} queued = ${f.queuedMiB} MiB on disk, RSS ${f.baseRssMiB} → peak ${f.appendPeakRssMiB} MiB; ` +
        `reconnect ${f.reconnectMs} ms after the broker returned; replay ${f.replayPerS} msg/s ` +
        `(${Math.round((f.replayPerS / raw) * 100)}% of raw), ${f.replayPerCpuS} msg per CPU-second ` +
        `(${Math.round((f.replayPerCpuS / base.perCpuS) * 100)}% of raw's), peak RSS ${f.replayPeakRssMiB} MiB`,
    );
    if (MESSAGES >= 500_000)
      print(
        `  RSS MiB once a second, queuing: ${f.fillSeries.join(' ')}; replaying: ${f.replaySeries.join(' ')}`,
      );
    for (const [k, v] of Object.entries(f)) if (typeof v === 'number') figures[`${name}.${k}`] = v;
  }
  // Raw again after the runs: the same client measured twice in one run shows how much the machine's
  // load moves the baseline; a ratio is only as good as that spread.
  const after = await rawBaseline(broker.url, probe);
  print(
    `baseline again after the runs: ${after.perS} msg/s, ${after.perCpuS} msg per CPU-second ` +
      `(${Math.round((after.perCpuS / base.perCpuS) * 100)}% of the first)`,
  );
  figures.rawQos1AfterPerS = after.perS;
  figures.rawQos1AfterPerCpuS = after.perCpuS;
  await broker.stop();
  return figures;
};

export default bench;
