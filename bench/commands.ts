// Commands bench: signed command → ack → PLC write (FC6) → read back → cmd/result, sequentially, over a real
// mosquitto and a simulator while the PLC is being polled, through the real WmsLink, PollerSet, replay cache
// (fsync), audit log (fsync) and update lock. Baselines from the same run: a bare modbus-serial write round
// trip on the same simulator, and a bare MQTT QoS 1 ping-pong through the same broker.
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { validateConfig } from '../agent/config/validate.js';
import { Gateway } from '../agent/runtime/gateway.js';
import { AuditLog } from '../agent/audit/audit-log.js';
import { UpdateLock } from '../agent/balena/update-lock.js';
import { CommandService } from '../agent/commands/command-service.js';
import { ModbusRTU } from '../plc/driver/modbus-serial.js';
import { startSimulator } from '../plc/simulator/simulator.js';
import { startMosquitto } from '../test/helpers/mosquitto.js';
import { makeSigner } from '../test/commands/signer.js';

const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 1000);
/** Unmeasured commands first: connections, JIT and caches warm, as on a gateway that has been running. */
const WARMUP = Number(process.env.BENCH_COMMANDS_WARMUP ?? 100);
const BASELINE = 1000;
const TENANT = 'bench';
const GW = 'gw';
const PREFIX = `wms/${TENANT}/${GW}/`;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return +(s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0).toFixed(2);
};

function noDelay(c: MqttClient | undefined): void {
  (c?.stream as Socket | undefined)?.setNoDelay?.(true);
}

export default async function bench(print: (line: string) => void) {
  const logger = pino({ level: 'warn' });
  // BENCH_DATA_DIR=/dev/shm shows the path's own cost with a cheap fsync (the disk's fsync is in the baselines).
  const dirPath = mkdtempSync(join(process.env.BENCH_DATA_DIR ?? tmpdir(), 'wmsgw-bench-cmd-'));
  const dir = { path: dirPath, cleanup: () => rmSync(dirPath, { recursive: true, force: true }) };
  // TCP_NODELAY on the broker: otherwise mosquitto holds each small packet ~40 ms (Nagle + delayed ACK).
  const broker = await startMosquitto({ extra: 'set_tcp_nodelay true' });
  const sim = await startSimulator({
    map: {
      tickMs: 50,
      units: [
        {
          id: 1,
          registers: [{ area: 'holding', address: 100, type: 'uint16', counter: { everyMs: 50 } }],
        },
      ],
    },
  });
  const signer = await makeSigner('EdDSA', 'bench');
  const tags = [
    {
      name: 'target',
      area: 'holding',
      address: 20,
      type: 'int16',
      writable: true,
      min: 0,
      max: 1500,
    },
    ...Array.from({ length: 20 }, (_, i) => ({
      name: `t${i}`,
      area: 'holding',
      address: 100 + i,
      type: 'uint16',
    })),
  ];
  const config = validateConfig({
    gateway: { tenant: TENANT, id: GW },
    wms: { urls: [broker.url] },
    commands: { keys: [signer.publicJwk] },
    plcs: [
      {
        id: 'plc1',
        transport: { type: 'tcp', host: '127.0.0.1', port: sim.port },
        groups: [{ intervalMs: 50, tags }],
      },
    ],
  });
  const gateway = new Gateway({
    config,
    tenant: TENANT,
    gatewayId: GW,
    dataDir: dir.path,
    version: 'bench',
    logger,
  });
  const audit = await AuditLog.open(join(dir.path, 'audit'), config.commands.audit);
  const commands = await CommandService.create({
    settings: config.commands,
    dataDir: dir.path,
    pollers: gateway.pollers,
    link: gateway.link,
    audit,
    logger,
    lock: new UpdateLock({ path: join(dir.path, 'balena', 'updates.lock'), logger }),
  });
  gateway.link.subscribe('cmd', (p) => void commands.handle(p));
  const up = new Promise((r) => gateway.link.once('connected', r));
  await gateway.start();
  await up;

  const wms = await mqtt.connectAsync(broker.url, { clientId: 'bench-wms' });
  noDelay(wms);
  const waiting = new Map<string, { ack?: number; done: (t: number) => void }>();
  let dataMessages = 0;
  wms.on('message', (topic, payload) => {
    const sub = topic.slice(PREFIX.length);
    if (sub.endsWith('/data')) return void dataMessages++;
    if (sub !== 'cmd/ack' && sub !== 'cmd/result') return;
    const t = performance.now();
    const { id, status } = JSON.parse(payload.toString()) as { id: string; status: string };
    const w = waiting.get(id);
    if (!w) return;
    if (sub === 'cmd/ack') {
      w.ack = t;
      if (status !== 'accepted')
        throw new Error(`bench command ${id} rejected: ${payload.toString()}`);
    } else if (sub === 'cmd/result') w.done(t);
  });
  await wms.subscribeAsync(`${PREFIX}#`, { qos: 1 });
  await new Promise((r) => setTimeout(r, 1000)); // polling warm-up

  const now = () => Math.floor(Date.now() / 1000);
  let n = 0;
  async function run(count: number) {
    const jws: { id: string; text: string }[] = [];
    for (let i = 0; i < count; i++) {
      const id = `b-${++n}`;
      jws.push({
        id,
        text: await signer.sign({
          id,
          plc: 'plc1',
          op: 'write',
          values: { target: n % 1500 },
          iat: now(),
          exp: now() + 600,
        }),
      });
    }
    const ack: number[] = [];
    const result: number[] = [];
    for (const { id, text } of jws) {
      const t0 = performance.now();
      const done = new Promise<number>((resolve) => waiting.set(id, { done: resolve }));
      wms.publish(`${PREFIX}cmd`, text, { qos: 1 });
      const t1 = await done;
      ack.push(waiting.get(id)!.ack! - t0);
      result.push(t1 - t0);
      waiting.delete(id);
    }
    return { ack, result };
  }

  await run(WARMUP);
  const dataBefore = dataMessages;
  const t0 = performance.now();
  const tuned = await run(COMMANDS);
  const secs = (performance.now() - t0) / 1000;
  const polledPerSecond = Math.round((dataMessages - dataBefore) / secs);

  // Baseline 1: a bare modbus-serial FC6 write round trip on the same simulator, polling still running.
  const mb = new ModbusRTU();
  await mb.connectTCP('127.0.0.1', { port: sim.port });
  mb.setID(1);
  const raw: number[] = [];
  for (let i = 0; i < BASELINE; i++) {
    const s = performance.now();
    await mb.writeRegister(20, i % 1500);
    raw.push(performance.now() - s);
  }
  await new Promise<void>((r) => mb.close(() => r()));
  // Baseline 2: MQTT QoS 1 ping-pong through the same broker (two hops, as command → ack is).
  const echo = await mqtt.connectAsync(broker.url, { clientId: 'bench-echo' });
  noDelay(echo);
  await echo.subscribeAsync('bench/ping', { qos: 1 });
  echo.on('message', (_t, p) => echo.publish('bench/pong', p, { qos: 1 }));
  await wms.subscribeAsync('bench/pong', { qos: 1 });
  const mqttRtt: number[] = [];
  for (let i = 0; i < BASELINE; i++) {
    const s = performance.now();
    const got = new Promise((r) => wms.once('message', r));
    wms.publish('bench/ping', String(i), { qos: 1 });
    await got;
    mqttRtt.push(performance.now() - s);
  }

  // Baseline 3: one small append + fdatasync in the same data dir — the command path has one before the write.
  const fh = await open(join(dir.path, 'fsync-probe'), 'a');
  const sync: number[] = [];
  for (let i = 0; i < BASELINE; i++) {
    const s = performance.now();
    await fh.appendFile(
      '{"t":"c","id":"b-000000","h":"0000000000000000000000000000000000000000000000000000000000000000"}\n',
    );
    await fh.datasync();
    sync.push(performance.now() - s);
  }
  await fh.close();

  await echo.endAsync(true);
  await wms.endAsync(true);
  await commands.close();
  await gateway.stop();
  await audit.close();
  await sim.close();
  await broker.stop();
  dir.cleanup();

  const row = (label: string, xs: number[]) =>
    print(
      `${label.padEnd(58)} p50 ${pct(xs, 0.5).toFixed(2).padStart(7)} ms   p99 ${pct(xs, 0.99).toFixed(2).padStart(7)} ms   max ${pct(xs, 1).toFixed(2).padStart(7)} ms`,
    );
  print(
    `${COMMANDS} signed EdDSA writes, one at a time, plc1 polled every 50 ms (${polledPerSecond} data messages/s meanwhile), data dir ${process.env.BENCH_DATA_DIR ?? tmpdir()}`,
  );
  row(`send → cmd/ack (after ${WARMUP} warm-up commands)`, tuned.ack);
  row(`send → cmd/result (target p99 ≤ 20)`, tuned.result);
  row('raw baseline: modbus-serial FC6 write round trip', raw);
  row('raw baseline: MQTT QoS 1 ping-pong via the broker', mqttRtt);
  row('raw baseline: 100-byte append + fdatasync (data dir)', sync);
  return {
    ackP50Ms: pct(tuned.ack, 0.5),
    ackP99Ms: pct(tuned.ack, 0.99),
    resultP50Ms: pct(tuned.result, 0.5),
    resultP99Ms: pct(tuned.result, 0.99),
    rawModbusWriteP50Ms: pct(raw, 0.5),
    rawModbusWriteP99Ms: pct(raw, 0.99),
    rawMqttRttP50Ms: pct(mqttRtt, 0.5),
    rawMqttRttP99Ms: pct(mqttRtt, 0.99),
    rawFsyncP50Ms: pct(sync, 0.5),
    rawFsyncP99Ms: pct(sync, 0.99),
  };
}
