// Sparkplug tests: a real mosquitto, our simulator, the real agent process (`wms-gateway run` with
// wms.format sparkplug-b), and a subscriber that decodes every spBv1.0 message with Eclipse Tahu's own
// decoder (the `sparkplug-payload` package: generated code of its own) — independent of the agent's
// protobufjs encoder. Commands sent to the agent are encoded with Tahu's encoder too.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { spawnCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { startSimulator, type Simulator } from '../../plc/simulator/simulator.js';

const require = createRequire(import.meta.url);

interface LongLike {
  toString(): string;
}
export interface TahuMetric {
  name?: string;
  alias?: LongLike;
  timestamp?: LongLike;
  type: string;
  value: unknown;
  isHistorical?: boolean;
}
export interface TahuPayload {
  timestamp?: LongLike;
  seq?: LongLike;
  metrics: TahuMetric[];
}
interface Tahu {
  decodePayload(b: Uint8Array): TahuPayload;
  encodePayload(p: object): Uint8Array;
}
export const tahu = (require('sparkplug-payload') as { get(ns: string): Tahu }).get('spBv1.0');
/** Tahu hands 64-bit fields out as Long objects ({low, high}) or plain numbers. */
function big(v: unknown): bigint {
  if (typeof v === 'number') return BigInt(v);
  const l = v as { low: number; high: number };
  return (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
}

export interface SpMessage {
  topic: string;
  type: string;
  device?: string;
  payload: TahuPayload;
  seq?: number;
  at: number;
}

export const GROUP = 'acme';
export const NODE = 'gw-sp';

export const num = (v: unknown): number => Number(big(v));
/** An Int64 metric's value as exact decimal text (two's complement in the uint64 field). */
export const int64Text = (v: unknown): string => BigInt.asIntN(64, big(v)).toString();
export const uint64Text = (v: unknown): string => big(v).toString();

export interface Rig {
  broker: Broker;
  sim: Simulator;
  dataDir: string;
  sp: SpMessage[];
  /** Messages Tahu's decoder refused (must stay empty). */
  undecodable: string[];
  alerts: Record<string, unknown>[];
  sub: MqttClient;
  agent: ChildProcess;
  /** The agent's JSON status topic says online (it is connected to the broker). */
  online: boolean;
  output(): string;
  startAgent(): Promise<void>;
  killAgent(): Promise<void>;
  until(pred: () => boolean, ms: number, what: string): Promise<void>;
  publish(topic: string, payload: Buffer | string, retain?: boolean): Promise<void>;
  ofType(type: string, device?: string): SpMessage[];
  close(): Promise<void>;
}

export async function startRig(opts: {
  plcs: (simPort: number) => object[];
  sparkplug?: object;
  wms?: object;
}): Promise<Rig> {
  const broker = await startMosquitto();
  const sim = await startSimulator({ host: '127.0.0.1', port: 0 });
  const dir = tmpDir('wmsgw-sp-');
  const config = {
    gateway: { tenant: GROUP, id: NODE },
    wms: { urls: [broker.url], heartbeatSeconds: 3600, format: 'sparkplug-b', ...opts.wms },
    sparkplug: opts.sparkplug ?? {},
    plcs: opts.plcs(sim.port),
  };
  const cfgFile = join(dir.path, 'gateway.yaml');
  writeFileSync(cfgFile, stringify(config));
  const dataDir = join(dir.path, 'data');

  const sub = await mqtt.connectAsync(broker.url, { clientId: 'sp-test-host' });
  const sp: SpMessage[] = [];
  const alerts: Record<string, unknown>[] = [];
  const undecodable: string[] = [];
  sub.on('message', (topic, payload) => {
    if (topic === `wms/${GROUP}/${NODE}/status`) {
      rig.online = (JSON.parse(payload.toString()) as { state?: string }).state === 'online';
      return;
    }
    if (topic === `wms/${GROUP}/${NODE}/alerts`) {
      alerts.push(JSON.parse(payload.toString()) as Record<string, unknown>);
      return;
    }
    const parts = topic.split('/');
    // Only what the node sends: STATE and the commands are the test's own messages.
    if (parts[0] !== 'spBv1.0' || parts[1] === 'STATE' || /CMD$/.test(parts[2] ?? '')) return;
    let decoded: TahuPayload;
    try {
      decoded = tahu.decodePayload(payload);
    } catch (e) {
      // Kept, not thrown: a throw here would break the client; tests assert that none happened.
      undecodable.push(`${topic}: ${(e as Error).message} (${payload.toString('hex')})`);
      return;
    }
    const m: SpMessage = { topic, type: parts[2]!, payload: decoded, at: Date.now() };
    if (parts[4]) m.device = parts[4];
    if (decoded.seq !== undefined && decoded.seq !== null) m.seq = num(decoded.seq);
    sp.push(m);
  });
  await sub.subscribeAsync(
    [`spBv1.0/${GROUP}/#`, `wms/${GROUP}/${NODE}/alerts`, `wms/${GROUP}/${NODE}/status`],
    { qos: 1 },
  );

  let out = '';
  let killed = false;
  const rig: Rig = {
    broker,
    sim,
    dataDir,
    sp,
    undecodable,
    alerts,
    sub,
    online: false,
    agent: undefined as unknown as ChildProcess,
    output: () => out,
    async startAgent() {
      const a = spawnCli(['run', '--config', cfgFile, '--data-dir', dataDir], {
        env: { HTTP_PORT: '0' },
      });
      a.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
      a.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
      rig.agent = a;
      killed = false;
    },
    async killAgent() {
      killed = true;
      const a = rig.agent;
      if (a.exitCode !== null || a.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        a.once('exit', () => resolve());
        a.kill('SIGKILL');
      });
    },
    async until(pred, ms, what) {
      // An agent that exited (a crash, a bad config) fails at once rather than after the whole wait.
      const exited = () =>
        !killed && (rig.agent.exitCode !== null || rig.agent.signalCode !== null);
      await waitFor(() => pred() || exited(), ms, what).catch(() => undefined);
      if (!pred())
        assert.fail(
          `${exited() ? `the agent exited before ${what}` : `timed out after ${ms} ms waiting for ${what}`}` +
            `\nagent output:\n${out.slice(-4000)}`,
        );
    },
    async publish(topic, payload, retain = false) {
      await sub.publishAsync(topic, payload, { qos: 1, retain });
    },
    ofType: (type, device) =>
      sp.filter((m) => m.type === type && (device === undefined || m.device === device)),
    async close() {
      await rig.killAgent();
      await sub.endAsync();
      await sim.close();
      await broker.stop();
      dir.cleanup();
    },
  };
  await rig.startAgent();
  return rig;
}

/** Metrics of a DBIRTH by name. */
export function byName(p: TahuPayload): Map<string, TahuMetric> {
  return new Map(p.metrics.map((m) => [m.name!, m]));
}

/** Every message after the last NBIRTH has seq one above the one before (mod 256). */
export function assertSeqContinuous(msgs: SpMessage[]): void {
  let prev: number | undefined;
  for (const m of msgs) {
    if (m.type === 'NDEATH') continue; // NDEATH carries no seq
    if (m.type === 'NBIRTH') {
      assert.equal(m.seq, 0, 'NBIRTH has seq 0');
      prev = 0;
      continue;
    }
    if (prev === undefined) continue;
    assert.equal(m.seq, (prev + 1) % 256, `seq after ${prev} (${m.type} ${m.topic})`);
    prev = m.seq;
  }
}
