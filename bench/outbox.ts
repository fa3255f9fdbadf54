// Outbox bench: 200k data messages queued through WmsLink while the broker is down (append rate, RSS),
// then the broker comes back (reconnect time) and the backlog drains to it (replay rate, RSS).
// The link runs in a child process of compiled JS (dist/, built by `npm run bench`), so its RSS is that of
// an agent-like process, not of this tsx-hosted runner; once with Node's default heap settings and once
// with a small young generation and heap cap. Baseline from the same run: raw mqtt.js QoS 1 publishing
// (same window, same payload size) to the same broker.
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

const SAMPLE = { speed: 1234.5, count: 987654, temp: 215, running: true, target: 1500 };

// The child: a WmsLink in a plain Node process. Prints one JSON line per phase; "go" on stdin = broker is up.
const CHILD = `
const [{ wmsSchema }, { createLogger }, { WmsLink }] = await Promise.all([
  import(${JSON.stringify(join(ROOT, 'dist/agent/config/schema.js'))}),
  import(${JSON.stringify(join(ROOT, 'dist/platform/logger.js'))}),
  import(${JSON.stringify(join(ROOT, 'dist/agent/link/wms-link.js'))}),
]);
const [url, dataDir, n] = process.argv.slice(1);
let peak = 0;
setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20).unref();
const wms = wmsSchema.parse({ urls: [url], reconnect: { minMs: 100, maxMs: 1000 }, outbox: { inflight: ${INFLIGHT} } });
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
out({ phase: 'queued', appendS: (performance.now() - t) / 1000, baseRss, peakRss: Math.max(peak, process.memoryUsage().rss), queued: link.stats().outbox });
const connected = new Promise((r) => link.once('connected', () => r(performance.now())));
process.stdin.once('data', async () => {
  t = performance.now();
  peak = 0;
  const reconnectMs = (await connected) - t;
  const t1 = performance.now();
  while (link.stats().outbox.messages > 0) await new Promise((r) => setTimeout(r, 20));
  out({ phase: 'drained', reconnectMs, replayS: (performance.now() - t1) / 1000, peakRss: Math.max(peak, process.memoryUsage().rss) });
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
  replayPeakRssMiB: number;
}

const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rawBaseline(url: string, payload: Buffer): Promise<number> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, protocolVersion: 5 });
  await new Promise((r) => c.once('connect', r));
  const t0 = performance.now();
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
  await c.endAsync(true);
  return Math.round(rate);
}

/** Queue MESSAGES with the broker down, bring it back, drain; all figures from the child process. */
async function runChild(broker: Broker, flags: string[]): Promise<ChildFigures> {
  await broker.stop();
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-outbox-'));
  const child = spawn(
    process.execPath,
    [...flags, '--input-type=module', '-e', CHILD, broker.url, dataDir, String(MESSAGES)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const next = () =>
    new Promise<Record<string, number> & { queued: { bytes: number } }>((resolve, reject) => {
      lines.once('line', (l) => resolve(JSON.parse(l)));
      child.once('exit', (code) => reject(new Error(`bench child exited with ${code}`)));
    });
  try {
    const q = await next();
    await sleep(1500); // the link is now in backoff against the dead broker
    await broker.start();
    child.stdin!.write('go\n');
    const d = await next();
    return {
      appendPerS: Math.round(MESSAGES / q.appendS!),
      appendPeakRssMiB: mb(q.peakRss!),
      baseRssMiB: mb(q.baseRss!),
      queuedMiB: mb(q.queued.bytes),
      reconnectMs: Math.round(d.reconnectMs!),
      replayPerS: Math.round(MESSAGES / d.replayS!),
      replayPeakRssMiB: mb(d.peakRss!),
    };
  } finally {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
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
  const raw = await rawBaseline(broker.url, probe);
  print(
    `baseline: raw mqtt.js QoS 1 publish (window ${INFLIGHT}, ${probe.length} B payload): ${raw} msg/s`,
  );
  const figures: Record<string, number> = { rawQos1PerS: raw };
  for (const [name, flags] of [
    ['default', []],
    ['production flags', LOW_MEMORY_FLAGS],
  ] as const) {
    const f = await runChild(broker, [...flags]);
    print(
      `${name} (${flags.join(' ') || 'Node defaults'}): append ${f.appendPerS} msg/s, ` +
        `${MESSAGES} queued = ${f.queuedMiB} MiB on disk, RSS ${f.baseRssMiB} → peak ${f.appendPeakRssMiB} MiB; ` +
        `reconnect ${f.reconnectMs} ms after the broker returned; replay ${f.replayPerS} msg/s ` +
        `(${Math.round((f.replayPerS / raw) * 100)}% of raw), peak RSS ${f.replayPeakRssMiB} MiB`,
    );
    for (const [k, v] of Object.entries(f)) figures[`${name}.${k}`] = v;
  }
  await broker.stop();
  return figures;
};

export default bench;
