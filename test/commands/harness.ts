// A gateway core (real PollerSet + real WmsLink) with the command and remote-config services attached,
// a real mosquitto, a real Modbus TCP simulator, and a WMS-side MQTT client that signs and listens.
import type { Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { ModbusRTU, type ModbusRTUClient } from '../../plc/driver/modbus-serial.js';
import { validateConfig } from '../../agent/config/validate.js';
import type { GatewayConfig } from '../../agent/config/schema.js';
import { Gateway } from '../../agent/runtime/gateway.js';
import { createLogger } from '../../platform/logger.js';
import type { AuditLog } from '../../agent/audit/audit-log.js';
import { CommandService } from '../../agent/commands/command-service.js';
import type { RemoteConfigService } from '../../agent/remote-config/remote-config-service.js';
import { attachCommandServices } from '../../agent/commands/attach.js';
import { UpdateLock } from '../../agent/balena/update-lock.js';
import { startSimulator, type Simulator } from '../../plc/simulator/simulator.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeSigner, type Signer } from './signer.js';

export const TENANT = 't1';
export const GATEWAY = 'gw1';
const PREFIX = `wms/${TENANT}/${GATEWAY}/`;

export interface Message {
  topic: string;
  json: Record<string, unknown>;
  at: number;
}

/** The test tags of one PLC: every kind of thing a command can hit. */
export function plcDoc(id: string, port: number, extra: object = {}) {
  return {
    id,
    transport: { type: 'tcp', host: '127.0.0.1', port },
    timeoutMs: 500,
    reconnect: { minMs: 50, maxMs: 500 },
    groups: [
      {
        intervalMs: 50,
        tags: [
          {
            name: 'target',
            area: 'holding',
            address: 20,
            type: 'int16',
            writable: true,
            min: 0,
            max: 1500,
          },
          {
            name: 'speed',
            area: 'holding',
            address: 22,
            type: 'float32',
            byteOrder: 'CDAB',
            writable: true,
            scale: 0.1,
          },
          { name: 'count', area: 'holding', address: 24, type: 'uint32', writable: true },
          {
            name: 'label',
            area: 'holding',
            address: 30,
            type: 'string',
            length: 4,
            writable: true,
          },
          { name: 'flag', area: 'holding', address: 40, type: 'bit', bit: 3, writable: true },
          { name: 'running', area: 'coil', address: 0, type: 'bool', writable: true },
          { name: 'temp', area: 'input', address: 10, type: 'int16' },
          { name: 'ro', area: 'holding', address: 50, type: 'int16' },
          { name: 'far', area: 'holding', address: 900, type: 'int16', writable: true },
          { name: 'tick', area: 'holding', address: 60, type: 'uint16' },
        ],
      },
    ],
    ...extra,
  };
}

/** A simulator whose holding register 60 counts (so data keeps flowing) and that answers
 * illegal-data-address past holding 800 (for the exception test). */
export function startPlc(): Promise<Simulator> {
  return startSimulator({
    map: {
      tickMs: 20,
      units: [
        {
          id: 1,
          sizes: { holding: 800 },
          registers: [
            {
              name: 'tick',
              area: 'holding',
              address: 60,
              type: 'uint16',
              counter: { everyMs: 20 },
            },
          ],
        },
      ],
    },
  });
}

export interface Harness {
  broker: Broker;
  sims: Simulator[];
  signer: Signer;
  /** The config document the gateway started with (before validation), to derive remote configs from. */
  doc: Record<string, unknown>;
  config: GatewayConfig;
  gateway: Gateway;
  commands: CommandService;
  remote: RemoteConfigService;
  /** Close the command service and open a new one on the same data dir (an agent restart, for commands). */
  restartCommands(): Promise<void>;
  audit: AuditLog;
  dataDir: string;
  wms: MqttClient;
  messages: Message[];
  send(topic: 'cmd' | 'config/set', payload: string | Buffer): Promise<void>;
  waitFor(pred: (m: Message) => boolean, timeoutMs?: number, label?: string): Promise<Message>;
  modbus(sim: Simulator): Promise<ModbusRTUClient>;
  stop(): Promise<void>;
}

export async function startHarness(
  opts: {
    plcs?: number;
    configured?: number;
    commands?: Record<string, unknown>;
    plcExtra?: object;
    lockPath?: string;
  } = {},
): Promise<Harness> {
  // eslint-disable-next-line prefer-const -- h is read by closures created before it is assigned
  let h: Harness;
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
  const dir = tmpDir('wmsgw-cmd-');
  // Without TCP_NODELAY mosquitto holds small packets ~40 ms (Nagle + delayed ACK); WMS brokers should set it too.
  const broker = await startMosquitto({ extra: 'set_tcp_nodelay true' });
  const sims: Simulator[] = [];
  for (let i = 0; i < (opts.plcs ?? 1); i++) sims.push(await startPlc());
  const signer = await makeSigner('ES256', 'wms-test');
  const doc = {
    gateway: { tenant: TENANT, id: GATEWAY },
    wms: { urls: [broker.url], reconnect: { minMs: 50, maxMs: 500 } },
    commands: { keys: [signer.publicJwk], ...opts.commands },
    plcs: sims
      .slice(0, opts.configured ?? sims.length)
      .map((s, i) => plcDoc(`plc${i + 1}`, s.port, opts.plcExtra)),
  };
  const config = validateConfig(doc);
  const gateway = new Gateway({
    config,
    tenant: TENANT,
    gatewayId: GATEWAY,
    dataDir: dir.path,
    version: 'test',
    logger,
  });
  const svc = await attachCommandServices({
    host: gateway,
    config,
    dataDir: dir.path,
    logger,
    ...(opts.lockPath ? { lock: new UpdateLock({ path: opts.lockPath, logger }) } : {}),
  });
  const { audit, remote } = svc;
  let commands = svc.commands;
  // A restart of the command service alone (same data dir), subscribed in place of the old one.
  const openCommands = () =>
    CommandService.create({
      settings: config.commands,
      dataDir: dir.path,
      pollers: gateway.pollers,
      link: gateway.link,
      audit,
      logger,
    });
  gateway.link.subscribe('cmd', (p) => void h.commands.handle(p));
  const connected = new Promise((r) => gateway.link.once('connected', r));
  await gateway.start();
  await connected;

  const messages: Message[] = [];
  const waiters = new Set<() => void>();
  const wms = await mqtt.connectAsync(broker.url, { clientId: `wms-${process.pid}-${Date.now()}` });
  (wms.stream as Socket).setNoDelay?.(true);
  wms.on('message', (topic, payload) => {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(payload.toString()) as Record<string, unknown>;
    } catch {
      return;
    }
    messages.push({ topic: topic.slice(PREFIX.length), json, at: performance.now() });
    for (const w of waiters) w();
  });
  await wms.subscribeAsync(`${PREFIX}#`, { qos: 1 });
  const clients: ModbusRTUClient[] = [];

  h = {
    broker,
    sims,
    signer,
    doc,
    config,
    gateway,
    get commands() {
      return commands;
    },
    remote,
    async restartCommands() {
      await commands.close();
      commands = await openCommands();
    },
    audit,
    dataDir: dir.path,
    wms,
    messages,
    async send(topic, payload) {
      await wms.publishAsync(PREFIX + topic, payload, { qos: 1 });
    },
    waitFor(pred, timeoutMs = 5000, label = 'message') {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find(pred);
          if (!m) return;
          cleanup();
          resolve(m);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(
            new Error(`timeout waiting for ${label}; last: ${JSON.stringify(messages.slice(-5))}`),
          );
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
      });
    },
    async modbus(sim) {
      const c = new ModbusRTU();
      await c.connectTCP('127.0.0.1', { port: sim.port });
      c.setID(1);
      c.setTimeout(1000);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) await new Promise<void>((r) => c.close(() => r()));
      await wms.endAsync(true);
      await commands.close();
      await gateway.stop();
      await audit.close();
      for (const s of sims) await s.close();
      await broker.stop();
      dir.cleanup();
    },
  };
  // The gateway's subscription to cmd is in place once it answers a (malformed) probe.
  for (let i = 0; i < 50 && !messages.some((m) => m.topic === 'cmd/ack'); i++) {
    await wms.publishAsync(`${PREFIX}cmd`, 'probe', { qos: 1 });
    await h.waitFor((m) => m.topic === 'cmd/ack', 200).catch(() => undefined);
  }
  await h.waitFor((m) => m.topic === 'cmd/ack', 1000, 'the probe ack');
  return h;
}

/** The ack and then the result of command `id`. */
export async function ackAndResult(h: Harness, id: string, timeoutMs = 5000) {
  const ack = await h.waitFor(
    (m) => m.topic === 'cmd/ack' && m.json.id === id,
    timeoutMs,
    `ack of ${id}`,
  );
  if (ack.json.status !== 'accepted') return { ack: ack.json, result: undefined };
  const result = await h.waitFor(
    (m) => m.topic === 'cmd/result' && m.json.id === id,
    timeoutMs,
    `result of ${id}`,
  );
  return { ack: ack.json, result: result.json };
}
