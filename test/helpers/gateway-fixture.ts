// One way for tests to drive the running agent (`wms-gateway run`): a real mosquitto, real Modbus
// simulators whose counter moves, the agent spawned from a config object, an MQTT collector that
// can wait for a message, and a teardown that runs even when the test fails. Teardown touches only
// what this fixture started (its own child PIDs, its broker, its simulators, its temp dirs).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { spawnCli, waitForOutput } from './cli.js';
import { startMosquitto, type Broker, type MosquittoTls } from './mosquitto.js';
import { freePort, waitForPort } from './ports.js';
import { tmpDir } from './tmp.js';
import { waitFor } from './wait.js';
import { startSimulator, type Simulator } from '../../plc/simulator/simulator.js';
import { collect, persistentBroker, type Collector } from '../link/collector.js';

/** What registers teardown: a node:test TestContext (`t`), or `{ after }` from node:test for a suite. */
export interface Teardown {
  after(fn: () => unknown): void;
}

const stacks = new WeakMap<Teardown, (() => unknown)[]>();

/**
 * Run `fn` after the test, pass or fail. Everything registered on the same `t` through this
 * function runs in reverse order (the agent is killed before its broker stops and its temp dir
 * goes); one clean-up failing does not stop the others. (node:test runs `t.after` hooks in the
 * order they were registered, hence one stack per test.)
 */
export function onTeardown(t: Teardown, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (!stack) {
    const s: (() => unknown)[] = [];
    stacks.set(t, (stack = s));
    t.after(async () => {
      const errors: unknown[] = [];
      for (const f of s.reverse()) {
        try {
          await f();
        } catch (e) {
          errors.push(e);
        }
      }
      if (errors.length) throw errors[0];
    });
  }
  stack.push(fn);
}

/** The PLC of most agent tests: one uint16 `counter` at holding 0, polled every `intervalMs`. */
export function counterPlc(
  id: string,
  port: number,
  opts: { intervalMs?: number } & Record<string, unknown> = {},
): Record<string, unknown> {
  const { intervalMs = 100, ...extra } = opts;
  return {
    id,
    transport: { type: 'tcp', host: '127.0.0.1', port },
    groups: [
      {
        intervalMs,
        tags: [{ name: 'counter', area: 'holding', address: 0, type: 'uint16' }],
      },
    ],
    ...extra,
  };
}

/** Bump holding 0 of unit 1 on every simulator every `everyMs`, so every poll is a data message. */
export function moveCounters(sims: Simulator[], everyMs = 50): { moving: boolean; stop(): void } {
  const handle = {
    moving: true,
    stop: () => clearInterval(timer),
  };
  const timer = setInterval(() => {
    if (!handle.moving) return;
    for (const s of sims) {
      const regs = s.registers(1, 'holding');
      regs[0] = (regs[0]! + 1) & 0xffff;
    }
  }, everyMs);
  return handle;
}

/** Write a config document as YAML into `dir`; returns the file's path. */
export function writeConfig(dir: string, doc: object, name = 'gateway.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(doc));
  return path;
}

export interface AgentOptions {
  /** Config file path (`--config`); omitted: the embedded default. */
  config?: string;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  /** Test modules to load first (`--import`). */
  preload?: string[];
  /** Extra CLI arguments after `run`. */
  args?: string[];
}

/** One `wms-gateway run` child at a time; restart() replaces it (same config, same data dir). */
export interface AgentHandle {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything the current and earlier children printed (the last 16 MB). */
  output(): string;
  exitCode(): number | null;
  waitForOutput(re: RegExp, timeoutMs?: number): Promise<string>;
  /** kill -9 the child and wait until it is gone. */
  kill9(): Promise<void>;
  /** Send `signal` and resolve with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Start again (after kill9/stop, or kill -9 first if still running). */
  restart(): Promise<void>;
  /** The child is gone and the test did not ask for it (kill9/stop): it crashed or refused to start. */
  diedUnasked(): boolean;
}

/**
 * Spawn `wms-gateway run`; it is killed at teardown if still running (with `t` undefined the caller
 * kills it: a fixture of its own that owns the agent's life, as test/trust/trust-fixtures.ts).
 */
export function startAgent(t: Teardown | undefined, opts: AgentOptions): AgentHandle {
  const onEnd = (fn: () => unknown) => t && onTeardown(t, fn);
  let out = '';
  const spawnOne = () => {
    const args = ['run', ...(opts.config ? ['--config', opts.config] : [])];
    const c = spawnCli([...args, '--data-dir', opts.dataDir, ...(opts.args ?? [])], {
      env: opts.env,
      preload: opts.preload,
    });
    // Bounded, but far above what a test run prints: tests search all of it (a secret never logged).
    const onData = (d: Buffer) => (out = (out + d.toString()).slice(-16_000_000));
    c.stdout?.on('data', onData);
    c.stderr?.on('data', onData);
    return c;
  };
  let child = spawnOne();
  let asked = false; // the test killed or stopped it
  const gone = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
  const kill9 = async () => {
    asked = true;
    const c = child;
    if (gone(c)) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  onEnd(kill9);
  return {
    get child() {
      return child;
    },
    get pid() {
      return child.pid!;
    },
    output: () => out,
    exitCode: () => child.exitCode,
    waitForOutput: (re, timeoutMs = 30_000) =>
      re.test(out) ? Promise.resolve(re.exec(out)![0]) : waitForOutput(child, re, timeoutMs),
    kill9,
    async stop(signal = 'SIGTERM') {
      asked = true;
      const c = child;
      if (gone(c)) return c.exitCode;
      return new Promise((resolve) => {
        c.once('exit', (code) => resolve(code));
        c.kill(signal);
      });
    },
    async restart() {
      await kill9();
      child = spawnOne();
      asked = false;
    },
    diedUnasked: () => !asked && gone(child),
  };
}

export interface Message {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/** The collector of test/link/collector.ts plus a wait on what it received. */
export interface MessageLog extends Collector {
  /** The first message matching `pred` (already received or still to come). */
  waitFor(pred: (m: Message) => boolean, timeoutMs: number, what: string): Promise<Message>;
  /** Parsed JSON payloads of the messages whose topic ends with `suffix`. */
  json<T = Record<string, unknown>>(suffix: string): T[];
}

export async function collectMessages(
  t: Teardown,
  url: string,
  topic: string,
  opts: Parameters<typeof collect>[2] = {},
): Promise<MessageLog> {
  const c = await collect(url, topic, opts);
  onTeardown(t, () => c.close());
  return {
    ...c,
    async waitFor(pred, timeoutMs, what) {
      await waitFor(() => c.messages.some(pred), timeoutMs, what);
      return c.messages.find(pred)!;
    },
    json<T>(suffix: string) {
      return c.messages
        .filter((m) => m.topic.endsWith(suffix))
        .map((m) => JSON.parse(m.payload.toString()) as T);
    },
  };
}

/** GET over loopback; status 0 when nothing answers (the agent not up yet, or down). */
export async function httpText(url: string): Promise<{ status: number; text: string }> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return { status: r.status, text: await r.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

/** One sample of a Prometheus text exposition (the first series of that name); NaN if absent. */
export function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

export interface GatewayOptions {
  /** gateway.id; the tenant is `acme` unless set. */
  id: string;
  tenant?: string;
  /**
   * The broker: mosquitto options (`persistent`: sessions survive its kill and restart), a broker
   * the test started itself, or `false` for none.
   */
  broker?: { tls?: MosquittoTls; extra?: string; persistent?: boolean } | Broker | false;
  /** How many simulators to start (each a `counterPlc` named `plc-<i>` unless `plcIds`). */
  sims?: number;
  plcIds?: string[];
  /** Options for each counter PLC's config entry (intervalMs, timeoutMs, ...). */
  plc?: Record<string, unknown>;
  /** Bump every simulator's counter every 50 ms (default true). */
  move?: boolean;
  /** Merged into the `wms` section (which has the broker's URL and heartbeatSeconds 3600). */
  wms?: Record<string, unknown>;
  /** The config document, from what was started; the default is built from the options above. */
  config?: (ctx: { broker?: Broker; sims: Simulator[]; dir: string }) => Record<string, unknown>;
  /** Other top-level config sections. */
  extra?: Record<string, unknown>;
  /** Subscribe this filter before the agent starts (default `wms/<tenant>/<id>/#`; false: none). */
  collect?: string | false;
  collectOpts?: Parameters<typeof collect>[2];
  /** A free HTTP port is given to the agent (HTTP_PORT) and awaited; otherwise HTTP_PORT=0. */
  http?: boolean;
  env?: NodeJS.ProcessEnv;
  preload?: string[];
  /** Data dir (default `<tmp>/data`). */
  dataDir?: string;
  /** Set false to start the agent later with `gw.startAgent()`. */
  start?: boolean;
}

export interface GatewayFixture {
  tenant: string;
  id: string;
  /** `wms/<tenant>/<id>/` */
  prefix: string;
  broker: Broker;
  /** With `broker: { persistent: true }`: resolves once mosquitto has saved its sessions after the call. */
  savedSessions(): Promise<void>;
  sims: Simulator[];
  mover: { moving: boolean; stop(): void };
  /** The temp directory (removed at teardown), the data dir and the config file. */
  dir: string;
  dataDir: string;
  configPath: string;
  doc: Record<string, unknown>;
  sub: MessageLog;
  agent: AgentHandle;
  startAgent(): Promise<AgentHandle>;
  httpPort: number;
  http(path: string): Promise<{ status: number; text: string }>;
  /** Seqs received per PLC (data messages), and the highest. */
  seqs(plc: string): number[];
  maxSeq(plc: string): number;
  /** waitFor that fails at once if the agent died unasked; its message ends with the agent's output. */
  until(cond: () => boolean, timeoutMs: number, what: string): Promise<void>;
}

/** Broker + simulators + config + collector + agent, torn down (in reverse) after the test. */
export async function startGateway(t: Teardown, opts: GatewayOptions): Promise<GatewayFixture> {
  const onEnd = (fn: () => unknown) => onTeardown(t, fn);
  const tenant = opts.tenant ?? 'acme';
  const prefix = `wms/${tenant}/${opts.id}/`;
  const tmp = tmpDir('wmsgw-gw-');
  onEnd(tmp.cleanup);
  let broker: Broker | undefined;
  let savedSessions = (): Promise<void> =>
    Promise.reject(new Error('the broker is not persistent'));
  if (opts.broker && 'url' in opts.broker) broker = opts.broker;
  else if (opts.broker !== false) {
    const b = opts.broker ?? {};
    if (b.persistent) {
      const p = await persistentBroker();
      onEnd(p.cleanup);
      broker = p.broker;
      savedSessions = p.saved;
    } else broker = await startMosquitto({ tls: b.tls, extra: b.extra });
    const started = broker;
    onEnd(() => started.stop());
  }
  const sims: Simulator[] = [];
  for (let i = 0; i < (opts.sims ?? 0); i++) {
    const sim = await startSimulator({ port: 0 });
    // Idempotent, so a test may stop a PLC itself (a PLC going away) and teardown still closes it.
    const close = sim.close.bind(sim);
    let closing: Promise<void> | undefined;
    sim.close = () => (closing ??= close());
    onEnd(() => sim.close());
    sims.push(sim);
  }
  const mover = moveCounters(sims);
  mover.moving = opts.move ?? true;
  onEnd(mover.stop);
  const plcIds = opts.plcIds ?? sims.map((_, i) => `plc-${i}`);
  const doc = opts.config
    ? opts.config({ broker, sims, dir: tmp.path })
    : {
        gateway: { tenant, id: opts.id },
        wms: { urls: broker ? [broker.url] : [], heartbeatSeconds: 3600, ...opts.wms },
        ...(sims.length
          ? { plcs: sims.map((s, i) => counterPlc(plcIds[i]!, s.port, opts.plc)) }
          : {}),
        ...opts.extra,
      };
  const configPath = writeConfig(tmp.path, doc);
  const dataDir = opts.dataDir ?? join(tmp.path, 'data');
  const filter = opts.collect ?? `${prefix}#`;
  const sub =
    broker && filter !== false
      ? await collectMessages(t, broker.url, filter, opts.collectOpts)
      : (undefined as unknown as MessageLog);
  const httpPort = opts.http ? await freePort() : 0;
  let agent: AgentHandle | undefined;
  const gw: GatewayFixture = {
    tenant,
    id: opts.id,
    prefix,
    broker: broker as Broker,
    savedSessions: () => savedSessions(),
    sims,
    mover,
    dir: tmp.path,
    dataDir,
    configPath,
    doc,
    sub,
    get agent() {
      if (!agent) throw new Error('the agent was not started');
      return agent;
    },
    async startAgent() {
      agent = startAgent(t, {
        config: configPath,
        dataDir,
        env: { HTTP_PORT: String(httpPort), ...opts.env },
        preload: opts.preload,
      });
      if (opts.http) await waitForPort(httpPort, '127.0.0.1', 60_000);
      return agent;
    },
    httpPort,
    http: (path) => httpText(`http://127.0.0.1:${httpPort}${path}`),
    seqs: (plc) => sub.seqs.get(plc) ?? [],
    maxSeq: (plc) => Math.max(0, ...(sub.seqs.get(plc) ?? [])),
    // An agent that died on its own fails the wait at once, not after the whole timeout.
    async until(cond, timeoutMs, what) {
      const died = () => agent?.diedUnasked() ?? false;
      await waitFor(() => cond() || died(), timeoutMs, what).catch(() => undefined);
      if (cond()) return;
      const why = died()
        ? `the agent exited (code ${agent!.exitCode()}) before ${what}`
        : `timed out after ${timeoutMs} ms waiting for ${what}`;
      throw new Error(`${why}\nagent output:\n${agent?.output().slice(-3000) ?? ''}`);
    },
  };
  if (opts.start !== false) await gw.startAgent();
  return gw;
}
