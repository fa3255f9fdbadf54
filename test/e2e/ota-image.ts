// The image as a balena device runs it, for the OTA end-to-end tests: the compiled build in a fresh
// directory (dist/, bin/, package.json; node_modules from the checkout, as the image has its own),
// started through its entry point `node dist/ota/launcher/main.js run`, with a real mosquitto, the
// simulator as the PLC, and bundles served over a loopback HTTP server.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import type { PackOptions } from '../../ota/bundle/pack.js';
import { ROOT } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

/** Every input of the build, hashed: the compiled image is shared by the test files of one source state. */
function sourceHash(): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((x, y) =>
      x.name < y.name ? -1 : 1,
    )) {
      const f = join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.name.endsWith('.ts') || e.name.endsWith('.js'))
        h.update(f).update(readFileSync(f));
    }
  };
  for (const d of ['agent', 'plc', 'ota', 'bin']) walk(join(ROOT, d));
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json'])
    h.update(readFileSync(join(ROOT, f)));
  return h.digest('hex').slice(0, 16);
}

const HOLD_PRELOAD = 'test-hold-phase.mjs';

/**
 * The sources compiled and laid out like the image (the factory slot), in a directory shared by the
 * OTA end-to-end files (built once per source state: tsc takes a while on a 2-core machine).
 * Built aside and renamed into place, so concurrent test files never see half an image.
 */
export async function buildImage(): Promise<string> {
  const dir = join(tmpdir(), `wms-gateway-e2e-image-${sourceHash()}`);
  if (existsSync(join(dir, 'package.json'))) return dir;
  // One build at a time: a test file starting while another builds waits for that image (two tsc
  // runs at once on a loaded 2-core machine can each take minutes).
  const building = `${dir}.building`;
  try {
    mkdirSync(building);
  } catch {
    await waitFor(
      () => existsSync(join(dir, 'package.json')) || !existsSync(building),
      600_000,
      'the image another test file is building',
      500,
    );
    if (existsSync(join(dir, 'package.json'))) return dir;
    mkdirSync(building, { recursive: true });
  }
  try {
    return await compileImage(dir);
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

async function compileImage(dir: string): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'wms-gateway-e2e-build-'));
  await run(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      join(work, 'dist'),
      '--sourceMap',
      'false',
    ],
    { cwd: ROOT, timeout: 600_000 },
  );
  cpSync(join(ROOT, 'bin'), join(work, 'bin'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
  // Test only, never in a real image: the power-cut seam (ota/device/hold.ts) of this image's code,
  // preloaded with --import when a test sets WMS_GATEWAY_OTA_HOLD (as test/ota/fixtures/hold-phase.ts).
  writeFileSync(
    join(work, HOLD_PRELOAD),
    `import { setPhaseHook } from './dist/ota/device/hold.js';
const wanted = (process.env.WMS_GATEWAY_OTA_HOLD ?? '').split(',').filter(Boolean);
if (wanted.length)
  setPhaseHook(async (phase) => {
    if (!wanted.includes(phase)) return;
    process.stderr.write('ota: holding in ' + phase + ' (WMS_GATEWAY_OTA_HOLD)\\n');
    await new Promise(() => setInterval(() => {}, 60000));
  });
`,
  );
  cpSync(join(ROOT, 'package.json'), join(work, 'package.json')); // last: marks a complete image
  try {
    renameSync(work, dir);
  } catch {
    rmSync(work, { recursive: true, force: true }); // another test file finished first
  }
  return dir;
}

/** A new agent build: the image's code with another version in package.json. */
export function agentBuild(image: string, dir: string, version: string): string {
  mkdirSync(dir, { recursive: true });
  cpSync(join(image, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(image, 'dist'), join(dir, 'dist'), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(image, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...pkg, version }, null, 2) + '\n');
  return dir;
}

/** A broken agent build: starts and exits 1 at once (a missing module, a bad migration...). */
export function crashingBuild(dir: string, version: string): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(
    join(dir, 'bin', 'wms-gateway.js'),
    `#!/usr/bin/env node\nconsole.error('broken agent ${version} starting');\nprocess.exit(1);\n`,
  );
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'wms-gateway', version }) + '\n');
  return dir;
}

/** Serves files of `dir` on a free loopback port. */
export async function serveDir(
  dir: string,
): Promise<{ url: (f: string) => string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    try {
      const body = readFileSync(
        join(dir, decodeURIComponent(req.url!.slice(1)).replace(/\.\./g, '')),
      );
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: (f) => `http://127.0.0.1:${port}/${f}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Pack options signed with privateJwk, valid from a minute ago for two hours (agent target unless o says). */
export function packOptions(
  privateJwk: PackOptions['privateJwk'],
  o: Partial<PackOptions> & { version: string; counter: number },
): PackOptions {
  const now = Math.floor(Date.now() / 1000);
  return { name: 'wms-gateway', target: 'agent', privateJwk, iat: now - 60, exp: now + 7200, ...o };
}

export const TENANT = 'acme';
export const GATEWAY = 'gw-ota';
export const PREFIX = `wms/${TENANT}/${GATEWAY}/`;

export function writeGatewayConfig(
  file: string,
  o: { broker: string; plcPort: number; otaKey: object },
): void {
  writeFileSync(
    file,
    stringify({
      gateway: { tenant: TENANT, id: GATEWAY },
      wms: { urls: [o.broker], reconnect: { minMs: 100, maxMs: 1000 }, heartbeatSeconds: 3600 },
      plcs: [plc('plc-0', o.plcPort)],
      ota: {
        keys: [o.otaKey],
        minHealthySeconds: 2,
        probationGraceSeconds: 30,
        crashLoop: { exits: 3, windowSeconds: 60 },
      },
    }),
  );
}

export function plc(id: string, port: number) {
  return {
    id,
    transport: { type: 'tcp', host: '127.0.0.1', port },
    groups: [
      { intervalMs: 200, tags: [{ name: 'counter', area: 'holding', address: 0, type: 'uint16' }] },
    ],
  };
}

export interface Gateway {
  proc: ChildProcess;
  startedAt: number;
  output(): string;
  waitOutput(re: RegExp, timeoutMs?: number): Promise<void>;
  /** kill -9 of the launcher alone; its orphaned agent stops by itself (IPC closed) and is awaited. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** `node <image>/dist/ota/launcher/main.js run --config F --data-dir D` in its own process group. */
export function startGateway(
  image: string,
  config: string,
  dataDir: string,
  env: NodeJS.ProcessEnv = {},
): Gateway {
  const proc = spawn(
    process.execPath,
    [
      // Power-cut tests only: the launcher passes its execArgv on to the agents it starts.
      ...(env.WMS_GATEWAY_OTA_HOLD
        ? ['--import', pathToFileURL(join(image, HOLD_PRELOAD)).href]
        : []),
      join(image, 'dist', 'ota', 'launcher', 'main.js'),
      'run',
      '--config',
      config,
      '--data-dir',
      dataDir,
    ],
    {
      cwd: image,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_JSON: '1', LOG_LEVEL: 'info', HTTP_PORT: '0', ...env },
    },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  // For a failed run: E2E_LOG_DIR keeps every gateway's output.
  if (process.env.E2E_LOG_DIR)
    proc.once('exit', () =>
      writeFileSync(join(process.env.E2E_LOG_DIR!, `gateway-${proc.pid}.log`), out),
    );
  const group = (sig: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      /* gone */
    }
  };
  process.once('exit', () => group('SIGKILL'));
  const agentPids = () =>
    // pino's own "pid" (the launcher's) comes first on the line; the child's is the last one.
    [...out.matchAll(/"pid":(\d+)(?:(?!"pid")[^\n])*launcher started the agent/g)].map((m) =>
      Number(m[1]),
    );
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    proc,
    startedAt: Date.now(),
    output: () => out,
    waitOutput: (re, timeoutMs = 60_000) =>
      waitFor(
        () => re.test(out),
        timeoutMs,
        `${re} in the gateway output:\n${out.slice(-3000)}`,
        50,
      ),
    async kill9() {
      process.kill(proc.pid!, 'SIGKILL');
      await exited;
      const pids = agentPids().filter(alive);
      // The agent notices the closed IPC channel and shuts down within its grace (8 s).
      await waitFor(() => !pids.some(alive), 20_000, 'the orphaned agent to stop').catch(() =>
        pids.forEach((p) => alive(p) && process.kill(p, 'SIGKILL')),
      );
    },
    async stop() {
      group('SIGTERM');
      const t = setTimeout(() => group('SIGKILL'), 12_000);
      await exited;
      clearTimeout(t);
      group('SIGKILL');
    },
  };
}

export interface Watch {
  client: MqttClient;
  last(sub: string): Record<string, unknown> | undefined;
  all(sub: string): Array<{ at: number; msg: Record<string, unknown> }>;
  until<T>(what: string, fn: () => T | undefined | false, timeoutMs?: number): Promise<T>;
  offer(payload: string): Promise<void>;
  close(): Promise<void>;
}

/** A WMS-side MQTT client on the gateway's topics: last message per subtopic, every message kept. */
export async function watchGateway(url: string): Promise<Watch> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 200 });
  const seen = new Map<string, Array<{ at: number; msg: Record<string, unknown> }>>();
  client.on('message', (topic, payload) => {
    const sub = topic.slice(PREFIX.length);
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(payload.toString()) as Record<string, unknown>;
    } catch {
      return;
    }
    const list = seen.get(sub) ?? [];
    list.push({ at: Date.now(), msg });
    if (list.length > 2000) list.shift();
    seen.set(sub, list);
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () =>
      client.subscribe(`${PREFIX}#`, { qos: 1 }, (e) => (e ? reject(e) : resolve())),
    );
    client.once('error', reject);
  });
  return {
    client,
    last: (sub) => seen.get(sub)?.at(-1)?.msg,
    all: (sub) => seen.get(sub) ?? [],
    async until(what, fn, timeoutMs = 90_000) {
      let v: ReturnType<typeof fn> = undefined;
      const state = () => JSON.stringify(seen.get('ota/state')?.at(-1)?.msg ?? null).slice(0, 1500);
      await waitFor(() => Boolean((v = fn())), timeoutMs, what, 50).catch((e: Error) => {
        throw new Error(`${e.message}; last ota/state: ${state()}`);
      });
      return v as never;
    },
    offer: (payload) =>
      new Promise<void>((resolve, reject) =>
        client.publish(`${PREFIX}ota/offer`, payload, { qos: 1 }, (e) =>
          e ? reject(e) : resolve(),
        ),
      ),
    close: () => new Promise<void>((r) => client.end(true, {}, () => r())),
  };
}

/** The image's own CLI (`bin/wms-gateway.js`), as an operator runs it on the device. */
export async function runImageCli(
  image: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [join(image, 'bin', 'wms-gateway.js'), ...args], {
      cwd: image,
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}
