// The gateway as a Sparkplug 3.0 edge node (CONTRACT.md §9): group = tenant, node = gateway id, device =
// PLC id. It is the link's data format (agent/link/link-format.ts): the will is an NDEATH with this
// connection's bdSeq; on connect (and, with a primary host, once that host's STATE says online) it sends
// NBIRTH and a DBIRTH per PLC, then lets the outbox flow as DDATA by alias. Entries stored before the
// current birth of their device go out as historical metrics. `seq` runs 0–255 over every message of a
// session, in the order they are handed to the socket. Beside it: stored-reading.ts (the outbox record
// and its DDATA metrics), node-command.ts (NCMD), bd-seq.ts (bdSeq and the NDEATH carrying it).
import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { TagValue } from '../../plc/codec/codec.js';
import type { PlcState } from '../../plc/poller/types.js';
import type { OutboxEntry } from '../outbox/outbox.js';
import type { DataGate, DataRecord, LinkFormat, Rendered } from '../link/link-format.js';
import type { AlertFn } from '../link/wms-link-types.js';
import { AliasTable, BDSEQ_METRIC, REBIRTH_ALIAS, REBIRTH_METRIC } from './aliases.js';
import { BdSeqStore, deathPayload, willBdSeq } from './bd-seq.js';
import { DataType, setMetricValue } from './datatypes.js';
import { DeviceCommands, type WriteService } from './device-commands.js';
import { isStateMessageError, parseHostState } from './host-state.js';
import { encodePayload, type SpMetric, type SpPayload } from './payload-codec.js';
import { readNodeCommand } from './node-command.js';
import {
  readStoredReading,
  readingMetrics,
  storeReading,
  type StoredReading,
} from './stored-reading.js';
import { SparkplugTopics, stateTopic } from './topics.js';

export interface DeviceView {
  id: string;
  state: PlcState;
  values: Record<string, TagValue>;
  quality: Record<string, 'bad'>;
  lastReadTs?: string;
}

/** What the node needs of the core (agent/runtime/gateway.ts's Gateway fits). */
export interface NodeHost {
  readonly currentConfig: GatewayConfig;
  plcViews(): DeviceView[];
  on(event: 'status', l: (e: { plc: string; status: { state: PlcState } }) => void): unknown;
  on(event: 'values', l: (e: { plc: string }) => void): unknown;
  on(event: 'config-applied', l: (c: GatewayConfig) => void): unknown;
}

export interface SparkplugNodeOptions {
  group: string;
  node: string;
  dataDir: string;
  logger: Logger;
  host: NodeHost;
  /** Data messages still in the outbox (a dead PLC's DDEATH waits until what it sent before is out). */
  backlog: () => number;
  alert: AlertFn;
}

export class SparkplugNode implements LinkFormat {
  readonly topics: SparkplugTopics;
  private readonly log: Logger;
  private readonly bdSeqs: BdSeqStore;
  private readonly commands: DeviceCommands;
  private readonly bootId = randomUUID().slice(0, 8);
  private births = 0;
  private client: MqttClient | undefined;
  private gate: DataGate | undefined;
  private bdSeq = 0;
  private seq = 0;
  private born = false;
  private aliases: AliasTable;
  /** device → the token of its birth in force. */
  private readonly bornDevices = new Map<string, string>();
  private readonly pendingDeaths = new Set<string>();
  private deathTimer: NodeJS.Timeout | undefined;
  private hostOnline: boolean | undefined;
  private hostTs = -1;
  private skipped = 0;

  constructor(private readonly opts: SparkplugNodeOptions) {
    this.topics = new SparkplugTopics(opts.group, opts.node);
    this.log = opts.logger.child({ component: 'sparkplug' });
    this.bdSeqs = new BdSeqStore(opts.dataDir);
    this.aliases = new AliasTable(opts.host.currentConfig.plcs);
    this.commands = new DeviceCommands({
      logger: this.log,
      alert: opts.alert,
      aliases: () => this.aliases,
      enabled: () => this.settings.commands,
    });
    opts.host.on('status', (e) => this.onPlcState(e.plc, e.status.state));
    opts.host.on('values', (e) => this.maybeBirthDevice(e.plc));
    opts.host.on('config-applied', () => this.onConfigApplied());
  }

  private get settings(): GatewayConfig['sparkplug'] {
    return this.opts.host.currentConfig.sparkplug;
  }

  private get qos(): 0 | 1 {
    return this.opts.host.currentConfig.wms.qos;
  }

  /** DCMD writes go through this (the commands service) once it is up. */
  useWriteService(svc: WriteService): void {
    this.commands.useService(svc);
  }

  // ---- LinkFormat ----

  will(): { topic: string; payload: Buffer; retain: boolean } {
    const bdSeq = this.bdSeqs.next();
    this.log.debug({ bdSeq }, 'connecting with an NDEATH will');
    return { topic: this.topics.nodeTopic('NDEATH'), payload: deathPayload(bdSeq), retain: false };
  }

  /** Stored as JSON with the birth in force, so render() can tell live from historical later. */
  record(plc: string, _seq: number, data: DataRecord): Buffer {
    return storeReading(data, this.bornDevices.get(plc) ?? '');
  }

  render(e: OutboxEntry): Rendered | undefined {
    const device = e.key;
    const token = this.bornDevices.get(device);
    let rec: StoredReading;
    try {
      rec = readStoredReading(e.payload);
    } catch {
      this.log.error({ plc: device, seq: e.seq }, 'outbox entry is not a stored reading; skipped');
      return undefined;
    }
    if (token === undefined) {
      // Only readings of a PLC not yet born (before its first complete read); its DBIRTH carries them.
      if (++this.skipped % 100 === 1)
        this.log.debug(
          { plc: device, skipped: this.skipped },
          'reading of an unborn device not sent',
        );
      return undefined;
    }
    const metrics = readingMetrics(rec, device, this.aliases, rec.b !== token);
    if (metrics.length === 0) return undefined;
    const payload = this.encode({ timestamp: Date.now(), metrics, seq: this.nextSeq() });
    return { topic: this.topics.deviceTopic('DDATA', device), payload };
  }

  up(client: MqttClient, gate: DataGate): void {
    this.client = client;
    this.gate = gate;
    this.born = false;
    this.bornDevices.clear();
    this.bdSeq = willBdSeq(client) ?? this.bdSeqs.current() ?? 0;
    client.subscribe(this.topics.commandFilters(), { qos: 1 });
    const host = this.settings.primaryHostId;
    if (host) {
      // Sparkplug 3.0: with a primary host, wait for its (retained) STATE before any birth.
      this.hostOnline = undefined;
      client.subscribe(stateTopic(host), { qos: 1 });
      this.log.info({ host }, 'connected; waiting for the primary host STATE before birth');
    } else this.birth('connect');
  }

  down(): void {
    this.client = undefined;
    this.gate = undefined;
    this.born = false;
    this.bornDevices.clear();
    this.pendingDeaths.clear();
    clearTimeout(this.deathTimer);
  }

  async close(client: MqttClient): Promise<void> {
    clearTimeout(this.deathTimer);
    if (!this.born || client !== this.client) return;
    this.born = false;
    await new Promise<void>((resolve) =>
      client.publish(this.topics.nodeTopic('NDEATH'), deathPayload(this.bdSeq), { qos: 1 }, () =>
        resolve(),
      ),
    );
  }

  message(topic: string, payload: Buffer): boolean {
    const host = this.settings.primaryHostId;
    if (host && topic === stateTopic(host)) {
      this.onHostState(payload);
      return true;
    }
    const cmd = this.topics.parseCommand(topic);
    if (cmd === 'NCMD') this.onNodeCommand(payload);
    else if (cmd) this.commands.handle(cmd.dcmd, payload);
    else return false;
    return true;
  }

  // ---- births and deaths ----

  /** NBIRTH (seq 0) and a DBIRTH for every PLC with a complete picture, then data may flow. */
  private birth(why: string): void {
    const client = this.client;
    if (!client) return;
    this.aliases = new AliasTable(this.opts.host.currentConfig.plcs);
    this.bornDevices.clear();
    this.pendingDeaths.clear();
    this.seq = 0;
    const now = Date.now();
    const metrics: SpMetric[] = [
      {
        name: BDSEQ_METRIC,
        timestamp: now,
        datatype: DataType.Int64,
        longValue: BigInt(this.bdSeq),
      },
      {
        name: REBIRTH_METRIC,
        alias: REBIRTH_ALIAS,
        timestamp: now,
        datatype: DataType.Boolean,
        booleanValue: false,
      },
    ];
    this.publish(this.topics.nodeTopic('NBIRTH'), { timestamp: now, metrics, seq: this.nextSeq() });
    this.born = true;
    this.log.info({ why, bdSeq: this.bdSeq, devices: this.aliases.deviceIds() }, 'NBIRTH sent');
    for (const v of this.opts.host.plcViews()) {
      if (!this.aliases.has(v.id)) continue;
      this.birthDevice(v);
      if (v.state === 'disconnected') this.pendingDeaths.add(v.id);
    }
    this.gate?.resume();
    this.checkDeaths();
  }

  /** A device is born once every tag has been read (a value or a bad quality) at least once. */
  private maybeBirthDevice(id: string): void {
    if (!this.born || this.bornDevices.has(id) || !this.aliases.has(id)) return;
    const v = this.opts.host.plcViews().find((p) => p.id === id);
    if (v && v.state !== 'disconnected') this.birthDevice(v);
  }

  private birthDevice(v: DeviceView): void {
    const defs = this.aliases.metrics(v.id);
    if (!defs.every((d) => d.tag.name in v.values || d.tag.name in v.quality)) return;
    const ts = v.lastReadTs ? Date.parse(v.lastReadTs) : Date.now();
    const metrics = defs.map((d) => {
      const bad = d.tag.name in v.quality;
      const value = bad ? null : (v.values[d.tag.name] ?? null);
      const m: SpMetric = { name: d.tag.name, alias: d.alias, timestamp: ts, datatype: d.datatype };
      return setMetricValue(m, d.datatype, value);
    });
    this.publish(this.topics.deviceTopic('DBIRTH', v.id), {
      timestamp: Date.now(),
      metrics,
      seq: this.nextSeq(),
    });
    this.bornDevices.set(v.id, `${this.bootId}:${++this.births}`);
    this.log.info({ plc: v.id, metrics: metrics.length }, 'DBIRTH sent');
  }

  private onPlcState(id: string, state: PlcState): void {
    if (!this.born) return;
    if (state === 'disconnected') {
      if (!this.bornDevices.has(id)) return;
      this.pendingDeaths.add(id);
      this.checkDeaths();
      return;
    }
    this.pendingDeaths.delete(id);
    this.maybeBirthDevice(id);
  }

  /** DDEATH for PLCs that went down, once the readings they took before are out (order on the wire). */
  private checkDeaths(): void {
    clearTimeout(this.deathTimer);
    if (!this.born || this.pendingDeaths.size === 0) return;
    if (this.opts.backlog() > 0) {
      this.deathTimer = setTimeout(() => this.checkDeaths(), this.settings.deathCheckMs);
      this.deathTimer.unref();
      return;
    }
    for (const id of this.pendingDeaths) {
      this.publish(this.topics.deviceTopic('DDEATH', id), {
        timestamp: Date.now(),
        metrics: [],
        seq: this.nextSeq(),
      });
      this.bornDevices.delete(id);
      this.log.info({ plc: id }, 'DDEATH sent');
    }
    this.pendingDeaths.clear();
  }

  private onConfigApplied(): void {
    // New or changed tags need a new alias table, which only a birth can announce.
    if (this.born) this.birth('config changed');
  }

  // ---- inbound ----

  private onHostState(payload: Buffer): void {
    const host = this.settings.primaryHostId;
    let s;
    try {
      s = parseHostState(payload);
    } catch (e) {
      if (!isStateMessageError(e)) throw e;
      this.opts.alert(
        'warning',
        'sparkplug.state-refused',
        `STATE of ${host} ignored: ${e.message}`,
        {
          reason: 'malformed',
          host,
        },
      );
      return;
    }
    if (s.timestamp < this.hostTs) {
      this.opts.alert(
        'warning',
        'sparkplug.state-refused',
        `STATE of ${host} ignored: timestamp ${s.timestamp} is older than the one in force (${this.hostTs})`,
        { reason: 'stale', host },
      );
      return;
    }
    this.hostTs = s.timestamp;
    const was = this.hostOnline;
    this.hostOnline = s.online;
    this.log.info({ host, online: s.online, timestamp: s.timestamp }, 'primary host STATE');
    if (s.online && !this.born) this.birth('primary host online');
    else if (!s.online && was !== false && this.born) this.goQuiet();
  }

  /**
   * The primary host went offline: an NDEATH tells every other consumer, and data stays in the outbox
   * until the host is back (then: births, and the backlog as historical metrics).
   */
  private goQuiet(): void {
    this.gate?.pause();
    clearTimeout(this.deathTimer);
    this.pendingDeaths.clear();
    this.born = false;
    this.bornDevices.clear();
    this.client?.publish(this.topics.nodeTopic('NDEATH'), deathPayload(this.bdSeq), { qos: 1 });
    this.log.warn(
      { host: this.settings.primaryHostId },
      'primary host offline: data held in the outbox',
    );
  }

  private onNodeCommand(payload: Buffer): void {
    readNodeCommand(payload, this.opts.alert, () => {
      if (this.settings.primaryHostId && !this.hostOnline) {
        this.log.info('rebirth requested while the primary host is offline: it follows its STATE');
        return;
      }
      if (this.client) this.birth('rebirth requested');
    });
  }

  // ---- wire ----

  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) % 256;
    return s;
  }

  private encode(p: SpPayload): Buffer {
    return encodePayload(p);
  }

  private publish(topic: string, p: SpPayload): void {
    this.client?.publish(topic, this.encode(p), { qos: this.qos });
  }
}
