// Trust test fixtures: root key pairs, policies signed the way `wms-gateway trust sign` signs them, and a
// WMS-side session with the running agent (real mosquitto, real simulators, `wms-gateway run`).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import type { JWK } from 'jose';
import { generateSigningKey } from '../../ota/bundle/signing.js';
import { signPolicy } from '../../agent/trust/publisher.js';
import { ModbusRTU } from '../../plc/driver/modbus-serial.js';
import {
  startAgent as spawnAgent,
  writeConfig,
  type AgentHandle,
} from '../helpers/gateway-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { cmdId, nowSec, type Signer } from '../commands/signer.js';

export interface Root {
  kid: string;
  privateJwk: JWK;
  publicJwk: JWK;
}

export async function makeRoot(kid: string, alg: 'EdDSA' | 'ES256' = 'EdDSA'): Promise<Root> {
  const k = await generateSigningKey(alg, kid);
  return { kid, privateJwk: k.privateJwk, publicJwk: k.publicJwk };
}

export interface PolicyDoc {
  version: number;
  iat?: number;
  exp?: number;
  keys?: unknown[];
  revoked?: string[];
  roots?: unknown[];
  threshold?: number;
  [k: string]: unknown;
}

/** A full policy (iat now, exp in 90 days unless given), signed by each root. */
export function policy(doc: PolicyDoc, ...roots: Root[]): Promise<string> {
  const now = nowSec();
  return signPolicy(
    { iat: now, exp: now + 90 * 86_400, keys: [], revoked: [], ...doc },
    roots.map((r) => r.privateJwk),
  );
}

/** A delegated key entry of a policy. */
export function delegate(s: Signer, roles: string[], extra: object = {}) {
  return { kid: s.kid, jwk: s.publicJwk, roles, ...extra };
}

export function writeCommand(plc: string, values: Record<string, unknown>) {
  const now = nowSec();
  return { id: cmdId('trust'), plc, op: 'write', values, iat: now, exp: now + 60 };
}

export interface Msg {
  topic: string;
  json: Record<string, unknown>;
}

/** The WMS side: every message under the gateway's prefix, in order. */
export class WmsSession {
  readonly messages: Msg[] = [];
  private constructor(
    readonly client: MqttClient,
    readonly prefix: string,
  ) {}

  static async open(url: string, prefix: string): Promise<WmsSession> {
    const client = await mqtt.connectAsync(url, {
      clientId: `wms-trust-${process.pid}-${Date.now()}`,
    });
    const s = new WmsSession(client, prefix);
    client.on('message', (topic, payload) => {
      try {
        s.messages.push({
          topic: topic.slice(prefix.length),
          json: JSON.parse(payload.toString()) as Record<string, unknown>,
        });
      } catch {
        // not JSON: not ours to check
      }
    });
    await client.subscribeAsync(`${prefix}#`, { qos: 1 });
    return s;
  }

  send(topic: string, payload: string): Promise<unknown> {
    return this.client.publishAsync(this.prefix + topic, payload, { qos: 1 });
  }

  mark(): number {
    return this.messages.length;
  }

  async next(
    topic: string,
    since: number,
    pred: (j: Record<string, unknown>) => boolean = () => true,
    ms = 30_000,
  ): Promise<Record<string, unknown>> {
    const find = () => this.messages.slice(since).find((m) => m.topic === topic && pred(m.json));
    await waitFor(() => find() !== undefined, ms, `${topic} after #${since}`).catch((e: Error) => {
      const last = this.messages.slice(-6).map((m) => `${m.topic} ${JSON.stringify(m.json)}`);
      throw new Error(`${e.message}; last:\n${last.join('\n')}`);
    });
    return find()!.json;
  }

  /**
   * The agent answers trust/set (its subscription is in place): a malformed probe until it is refused.
   * Returns the state it answered with.
   */
  async ready(ms = 90_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    for (;;) {
      const at = this.mark();
      await this.send('trust/set', 'probe');
      const st = await this.next('trust/state', at, (j) => j.status === 'rejected', 1000).catch(
        () => undefined,
      );
      if (st) return st;
      if (Date.now() > deadline) throw new Error('the agent never answered trust/set');
    }
  }

  /** Publish a trust/set and return the trust/state that answered it. */
  async trustSet(payload: string): Promise<Record<string, unknown>> {
    const at = this.mark();
    const sent = createHash('sha256').update(payload).digest('hex');
    await this.send('trust/set', payload);
    return this.next(
      'trust/state',
      at,
      (j) => (j.attempted as { sha256?: string } | undefined)?.sha256 === sent,
    );
  }

  /** Publish a signed command and return its ack (and result when accepted). */
  async command(jws: string, id: string) {
    const at = this.mark();
    await this.send('cmd', jws);
    const ack = await this.next('cmd/ack', at, (j) => j.id === id);
    const result =
      ack.status === 'accepted' ? await this.next('cmd/result', at, (j) => j.id === id) : undefined;
    return { ack, result };
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/** Holding register `address` of unit 1 read over Modbus TCP by a client of our own (not the agent). */
export async function readHolding(port: number, address: number): Promise<number> {
  const c = new ModbusRTU();
  await c.connectTCP('127.0.0.1', { port });
  c.setID(1);
  c.setTimeout(2000);
  try {
    return (await c.readHoldingRegisters(address, 1)).data[0]!;
  } finally {
    await new Promise<void>((r) => c.close(() => r()));
  }
}

export type Agent = AgentHandle;

/** `wms-gateway run` on a config file written from doc; the test kills it (killHard). */
export function startAgent(dir: string, doc: object, env: NodeJS.ProcessEnv = {}): Agent {
  return spawnAgent(undefined, {
    config: writeConfig(dir, doc),
    dataDir: join(dir, 'data'),
    env: { HTTP_PORT: '0', ...env },
  });
}

export function killHard(a: Agent): Promise<void> {
  return a.kill9();
}
