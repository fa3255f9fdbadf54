// Maintenance bench: a full and a differential backup and the compression of a week of logs, run the
// way the agent runs them (paced chunks), while a 10 ms "poll" timer measures how late polling gets.
// Baselines from the same run: timer lateness with nothing else going on, raw copyFile and raw gzip rates.
import { mkdirSync, writeFileSync, copyFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Maintenance } from '../agent/maintenance/scheduler.js';
import { validateConfig } from '../agent/config/validate.js';
import { percentile } from './proc-stats.js';

const STATE_MB = Number(process.env.BENCH_STATE_MB ?? 64);
const LOG_MB = Number(process.env.BENCH_LOG_MB ?? 64);
const POLL_MS = 10;

/** Lateness of a POLL_MS timer while fn runs: what a PLC poll group would feel. */
async function pollLateness<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; p50: number; p99: number; max: number }> {
  const late: number[] = [];
  let expected = performance.now() + POLL_MS;
  let stop = false;
  const tick = () => {
    const now = performance.now();
    late.push(Math.max(0, now - expected));
    expected = now + POLL_MS;
    if (!stop) setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
  const result = await fn();
  stop = true;
  late.sort((a, b) => a - b);
  return { result, p50: percentile(late, 50), p99: percentile(late, 99), max: late.at(-1) ?? 0 };
}

function seed(dir: string): void {
  writeFileSync(join(dir, 'gateway.yaml'), 'gateway: { tenant: bench, id: gw }\n');
  mkdirSync(join(dir, 'state'), { recursive: true });
  const files = 32;
  for (let i = 0; i < files; i++)
    writeFileSync(join(dir, 'state', `s${i}.json`), randomBytes((STATE_MB * 1024 ** 2) / files));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const line =
    JSON.stringify({
      level: 30,
      time: Date.now(),
      pid: 1,
      hostname: 'gw',
      name: 'wms-gateway',
      plc: 'line-1',
      msg: 'poll ok',
      durationMs: 12,
    }) + '\n';
  const chunk = line.repeat(Math.ceil((1024 * 1024) / line.length));
  for (let d = 8; d < 12; d++) {
    const stamp = new Date(Date.now() - d * 86_400_000)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}Z$/, 'Z');
    writeFileSync(join(dir, 'logs', `agent.${stamp}.log`), chunk.repeat(LOG_MB / 4));
  }
}

export default async function bench(
  print: (line: string) => void,
): Promise<Record<string, number | string>> {
  const dir = join(tmpdir(), `wmsgw-bench-maint-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    seed(dir);
    print(
      `data: ${STATE_MB} MB of state in 32 files, ${LOG_MB} MB of JSON logs 8-11 days old; poll timer ${POLL_MS} ms`,
    );
    // Baselines.
    const idle = await pollLateness(() => new Promise((r) => setTimeout(r, 3000)));
    print(
      `baseline: poll lateness with nothing running p50 ${idle.p50.toFixed(1)} ms, p99 ${idle.p99.toFixed(1)} ms, max ${idle.max.toFixed(1)} ms`,
    );
    const copyDir = join(dir, 'raw-copy');
    mkdirSync(copyDir);
    let t = performance.now();
    for (const f of readdirSync(join(dir, 'state')))
      copyFileSync(join(dir, 'state', f), join(copyDir, f));
    const rawCopyMBs = STATE_MB / ((performance.now() - t) / 1000);
    rmSync(copyDir, { recursive: true });
    const logFile = readdirSync(join(dir, 'logs'))[0]!;
    t = performance.now();
    await pipeline(
      createReadStream(join(dir, 'logs', logFile)),
      createGzip(),
      createWriteStream(join(dir, 'raw.gz')),
    );
    const rawGzipMBs =
      statSync(join(dir, 'logs', logFile)).size / 1024 ** 2 / ((performance.now() - t) / 1000);
    rmSync(join(dir, 'raw.gz'));
    print(
      `baseline: raw copyFile ${rawCopyMBs.toFixed(0)} MB/s, raw gzip ${rawGzipMBs.toFixed(0)} MB/s (unpaced, blocking nothing else)`,
    );

    const m = new Maintenance({
      dataDir: dir,
      configPath: join(dir, 'gateway.yaml'),
      config: validateConfig({}).maintenance,
    });
    const out: Record<string, number | string> = {
      rawCopyMBs: Math.round(rawCopyMBs),
      rawGzipMBs: Math.round(rawGzipMBs),
      idlePollP99Ms: +idle.p99.toFixed(1),
    };
    const run = async (job: 'fullBackup' | 'diffBackup' | 'logRotation', mb: number) => {
      const r = await pollLateness(() => m.run(job));
      const rep = r.result;
      print(
        `${job}: ${(rep.durationMs / 1000).toFixed(1)} s (${(mb / (rep.durationMs / 1000)).toFixed(0)} MB/s), CPU ${rep.cpuPct}% of one core; poll lateness p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms; problems ${rep.problems.length}`,
      );
      out[`${job}S`] = +(rep.durationMs / 1000).toFixed(1);
      out[`${job}CpuPct`] = rep.cpuPct;
      out[`${job}PollP99Ms`] = +r.p99.toFixed(1);
    };
    await run('fullBackup', STATE_MB);
    // A day of changes: a quarter of the state files.
    for (let i = 0; i < 8; i++)
      writeFileSync(join(dir, 'state', `s${i}.json`), randomBytes((STATE_MB * 1024 ** 2) / 32));
    await run('diffBackup', STATE_MB / 4);
    await run('logRotation', LOG_MB);
    await m.stop();
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
