// One PLC (one unit id): its link (a TCP connection shared with the other units behind the same
// host:port, or a shared RTU bus), its poll groups on drift-free timers, reconnect and per-unit
// backoff (capped exponential + jitter), and commands queued ahead of the polls.
// A pure reader/writer: report-by-exception happens in the core (ChangeFilter on 'reading').
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { PlcConfig, TagConfig } from '../config/schema.js';
import { applyBit, type TagValue } from '../codec/codec.js';
import {
  decodeBlock,
  planReads,
  planWrites,
  type ReadBlock,
  type WriteOp,
} from '../planner/planner.js';
import {
  errorCode,
  isLinkFatal,
  isModbusExceptionError,
  isModbusResponseError,
  isModbusTimeoutError,
  ModbusConnectionError,
  ModbusResponseError,
} from '../driver/errors.js';
import { ModbusClient } from '../driver/modbus-client.js';
import type { ModbusLink } from '../driver/modbus-link.js';
import { SerialBusRegistry, type SerialBus } from '../driver/serial-bus.js';
import type { Priority } from '../driver/serial-queue.js';
import { SerialQueue } from '../driver/serial-queue.js';
import { TcpLinkRegistry, type TcpLink } from '../driver/tcp-link.js';
import { CommandQueueFullError, TagNotWritableError, UnknownTagError } from './errors.js';
import { backoffDelay } from '../../platform/backoff.js';
import { TickScheduler } from './tick-scheduler.js';
import { readPipelined } from './pipeline.js';
import {
  DEFAULT_COMMAND_QUEUE_LENGTH,
  DEFAULT_TCP_PIPELINE,
  MAX_TCP_PIPELINE,
  type PlcPollerEvents,
  type PlcReading,
  type PlcState,
  type PlcStatus,
  type PollerOptions,
  type PollerStats,
} from './types.js';

export type { PlcState, PlcReading, PlcStatus, PollerStats, PollerOptions } from './types.js';
export { DEFAULT_COMMAND_QUEUE_LENGTH, DEFAULT_TCP_PIPELINE, MAX_TCP_PIPELINE } from './types.js';

const MIN_CONNECT_TIMEOUT_MS = 3000;

/** Gateway exceptions: the gateway is there, the unit behind it is not (Modbus v1.1b3 §7). */
const GATEWAY_PATH_UNAVAILABLE = 0x0a;
const GATEWAY_TARGET_FAILED = 0x0b;

/** The unit itself does not answer (the link may be fine): back this unit off, not the others. */
export function isUnitSilent(e: unknown): boolean {
  return (
    isModbusTimeoutError(e) ||
    (isModbusExceptionError(e) &&
      (e.exceptionCode === GATEWAY_PATH_UNAVAILABLE || e.exceptionCode === GATEWAY_TARGET_FAILED))
  );
}

interface GroupPlan {
  blocks: ReadBlock[];
  tags: TagConfig[];
  busy: boolean;
  scheduler?: TickScheduler;
}

export class PlcPoller extends EventEmitter<PlcPollerEvents> {
  readonly id: string;
  private readonly link: ModbusLink;
  private readonly client: ModbusClient;
  private readonly queue = new SerialQueue();
  private readonly groups: GroupPlan[];
  private readonly tags = new Map<string, TagConfig>();
  private readonly logger: Logger;
  private readonly buses: SerialBusRegistry;
  private readonly tcpLinks: TcpLinkRegistry;
  /** Per-unit backoff: consecutive cycles the unit did not answer, and no polls before `until`. */
  private unitAttempt = 0;
  private unitBackoffUntil = 0;
  private unitFailure = '';
  private running = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  private current: PlcStatus;
  private progressMs = performance.now();
  private pendingCommands = 0;
  private readonly commandLimit: number;
  private readonly pipeline: number;
  private readonly counters: PollerStats = {
    polls: 0,
    errors: 0,
    overruns: 0,
    lastDurationMs: 0,
    reconnects: 0,
    commands: 0,
    requests: 0,
    sinkErrors: 0,
  };

  constructor(
    readonly config: PlcConfig,
    deps: {
      logger: Logger;
      buses?: SerialBusRegistry;
      tcpLinks?: TcpLinkRegistry;
      options?: PollerOptions;
    },
  ) {
    super();
    this.id = config.id;
    this.logger = deps.logger.child({ plc: config.id });
    this.buses = deps.buses ?? new SerialBusRegistry();
    this.tcpLinks = deps.tcpLinks ?? new TcpLinkRegistry();
    this.commandLimit = deps.options?.commandQueueLength ?? DEFAULT_COMMAND_QUEUE_LENGTH;
    const depth = Math.trunc(
      config.tcpPipeline ?? deps.options?.tcpPipeline ?? DEFAULT_TCP_PIPELINE,
    );
    this.pipeline =
      config.transport.type === 'tcp' ? Math.min(MAX_TCP_PIPELINE, Math.max(1, depth)) : 1;
    const limits = {
      maxGap: config.maxGap,
      maxRegisters: config.maxRegistersPerRead,
      maxBits: config.maxBitsPerRead,
    };
    this.groups = config.groups.map((g) => ({
      blocks: planReads(g.tags, limits),
      tags: g.tags,
      busy: false,
    }));
    for (const g of config.groups) for (const t of g.tags) this.tags.set(t.name, t);
    const t = config.transport;
    this.link =
      t.type === 'tcp'
        ? this.tcpLinks.acquire({
            host: t.host,
            port: t.port,
            connectTimeoutMs:
              deps.options?.connectTimeoutMs ?? Math.max(config.timeoutMs, MIN_CONNECT_TIMEOUT_MS),
            pipeline: this.pipeline,
          })
        : this.buses.acquire(t);
    this.client = new ModbusClient(this.link, {
      unitId: config.unitId,
      timeoutMs: config.timeoutMs,
    });
    this.current = { plc: this.id, state: 'disconnected', ts: new Date().toISOString() };
    this.link.on('close', this.onLinkClose);
  }

  status(): PlcStatus {
    return { ...this.current };
  }

  lastProgressMs(): number {
    return this.progressMs;
  }

  stats(): PollerStats & { state: PlcState; queued: number } {
    return { ...this.counters, state: this.current.state, queued: this.queue.waiting };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    // Polls begin once the first connect attempt settled, so the first reading is a real one.
    void this.connect().then(() => this.running && this.startGroups());
    this.logger.info(
      { transport: this.link.description, unitId: this.config.unitId, groups: this.groups.length },
      'poller started',
    );
  }

  private startGroups(): void {
    this.groups.forEach((g, gi) => {
      g.scheduler = new TickScheduler({
        intervalMs: this.config.groups[gi]!.intervalMs,
        onTick: () => this.tick(gi),
        onOverrun: (n) => {
          this.counters.overruns += n;
          this.logger.debug({ group: gi, skipped: n }, 'poll overrun: ticks skipped');
        },
      });
      g.scheduler.begin();
    });
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const g of this.groups) g.scheduler?.stop();
    clearTimeout(this.reconnectTimer);
    this.queue.clear(new ModbusConnectionError(`PLC "${this.id}" poller stopped`));
    this.link.off('close', this.onLinkClose);
    if (this.config.transport.type === 'tcp') await this.tcpLinks.release(this.link as TcpLink);
    else await this.buses.release(this.link as SerialBus);
    // The job in progress ends fast: its requests fail once the link is closed (or finish on a shared bus).
    await this.queue.run(async () => undefined, 'urgent').catch(() => undefined);
    this.logger.info('poller stopped');
  }

  // ---- connection -------------------------------------------------------------------------------

  private readonly onLinkClose = (err: unknown): void => {
    if (!this.running) return;
    this.setState('disconnected', err instanceof Error ? err.message : 'link closed');
    this.scheduleReconnect();
  };

  private connect(): Promise<void> {
    this.connecting ??= (async () => {
      try {
        await this.link.open();
        // stop() ran while connecting: the link was released (and closed if it was the last user)
        if (!this.running) return;
        // Not 'connected' yet: a TCP connect to a gateway says nothing about the unit behind it;
        // the first answer of the unit does.
        this.logger.info({ transport: this.link.description }, 'PLC link up');
      } catch (e) {
        if (!this.running) return;
        this.setState('disconnected', e instanceof Error ? e.message : String(e));
        this.scheduleReconnect();
      }
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private scheduleReconnect(): void {
    if (!this.running || this.reconnectTimer) return;
    const delay = backoffDelay(
      this.attempt++,
      this.config.reconnect.minMs,
      this.config.reconnect.maxMs,
    );
    this.logger.debug({ delayMs: Math.round(delay), attempt: this.attempt }, 'reconnect scheduled');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.counters.reconnects++;
      void this.connect();
    }, delay);
  }

  private setState(state: PlcState, error?: string): void {
    if (this.current.state === state && this.current.error === error) return;
    const prev = this.current.state;
    this.current = {
      plc: this.id,
      state,
      ...(error ? { error } : {}),
      ts: new Date().toISOString(),
    };
    if (prev !== state)
      this.logger[state === 'connected' ? 'info' : 'warn'](
        { state, from: prev, error },
        'PLC state changed',
      );
    this.emit('status', this.status());
  }

  // ---- polling ----------------------------------------------------------------------------------

  private tick(gi: number): boolean {
    const g = this.groups[gi]!;
    if (g.busy) return false;
    if (this.unitBackoffUntil > performance.now()) {
      this.backedOffReading(gi);
      return true;
    }
    g.busy = true;
    this.queue
      .run(() => this.cycle(gi))
      .catch((e: unknown) => {
        // Rejected because the poller stopped: expected. Anything else is a bug to see, not swallow.
        if (this.running)
          this.logger.error({ group: gi, err: (e as Error).message }, 'poll cycle failed');
      })
      .finally(() => (g.busy = false));
    return true;
  }

  /** A tick while the unit is backed off: no request (the link stays free), every tag with the cause. */
  private backedOffReading(gi: number): void {
    const g = this.groups[gi]!;
    const tsMs = Date.now();
    const errors: Record<string, string> = {};
    for (const t of g.tags) errors[t.name] = this.unitFailure;
    this.progressMs = performance.now();
    this.emit('reading', {
      plc: this.id,
      group: gi,
      ts: new Date(tsMs).toISOString(),
      tsMs,
      durationMs: 0,
      values: {},
      errors,
    } satisfies PlcReading);
  }

  /** The unit did not answer a whole cycle: skip its polls for a capped, jittered, growing delay. */
  private backOffUnit(code: string): void {
    const delay = backoffDelay(
      this.unitAttempt++,
      this.config.reconnect.minMs,
      this.config.reconnect.maxMs,
    );
    this.unitBackoffUntil = performance.now() + delay;
    this.unitFailure = code;
    this.logger.debug(
      { delayMs: Math.round(delay), attempt: this.unitAttempt, error: code },
      'unit backed off',
    );
    this.setState(
      'disconnected',
      `${code}: unit ${this.config.unitId} does not answer via ${this.link.description}; its polls are backed off`,
    );
  }

  private async cycle(gi: number): Promise<void> {
    const g = this.groups[gi]!;
    const started = performance.now();
    const tsMs = Date.now();
    let values: Record<string, TagValue> = {};
    const errors: Record<string, string> = {};
    let fatal: string | undefined;
    let ok = 0;
    let unitSilent: string | undefined;
    const pipelined =
      this.pipeline > 1 && g.blocks.length > 1
        ? readPipelined(g.blocks, this.pipeline, (b) => this.readBlock(b, 'normal'))
        : undefined;
    for (const [bi, block] of g.blocks.entries()) {
      if (!this.running) return;
      if (fatal === undefined && !pipelined && !this.link.isOpen()) fatal = 'disconnected';
      if (fatal !== undefined) {
        for (const t of block.tags) errors[t.name] = fatal;
        continue;
      }
      try {
        const data = pipelined ? await pipelined[bi]! : await this.readBlock(block, 'normal');
        const res = decodeBlock(block, data);
        // One block (the common case): its result object is the reading's, not copied value by value.
        if (g.blocks.length === 1) values = res.values;
        else Object.assign(values, res.values);
        for (const name in res.errors) errors[name] = 'bad-response';
        ok++;
      } catch (e) {
        if (!this.running) return; // stopping: the link was closed under this read
        const code = errorCode(e);
        this.counters.errors++;
        for (const t of block.tags) errors[t.name] = code;
        if (isUnitSilent(e)) unitSilent ??= code;
        // After a timeout, a gateway exception or a garbled answer the rest of this cycle would only
        // wait or mis-pair: give it the same error. A garbled answer on TCP also reconnects so the
        // stream is in step again (a timeout closes the connection only if no unit answers on it:
        // TcpLink decides, so a dead unit behind a gateway does not cut off the others).
        if (isLinkFatal(e) || isUnitSilent(e)) {
          fatal = code;
          this.logger.warn(
            { group: gi, area: block.area, start: block.start, count: block.count, error: code },
            'read failed',
          );
          if (this.config.transport.type === 'tcp' && isModbusResponseError(e))
            await this.link.close();
        } else
          this.logger.debug(
            { group: gi, area: block.area, start: block.start, error: code },
            'read refused',
          );
      }
    }
    const durationMs = performance.now() - started;
    this.counters.polls++;
    this.counters.lastDurationMs = durationMs;
    this.progressMs = performance.now();
    if (ok > 0) {
      this.attempt = 0;
      this.unitAttempt = 0;
    }
    let firstError: string | undefined;
    for (const name in errors) {
      firstError = errors[name];
      break;
    }
    if (ok === 0 && unitSilent !== undefined) this.backOffUnit(unitSilent);
    else if (this.link.isOpen()) {
      if (firstError === undefined) this.setState('connected');
      else this.setState('degraded', firstError);
    }
    const reading: PlcReading = {
      plc: this.id,
      group: gi,
      ts: new Date(tsMs).toISOString(),
      tsMs,
      durationMs,
      values,
      errors,
    };
    this.deliver(reading);
  }

  /**
   * Hand the reading on. A consumer that throws (its store failed) must neither stop polling nor vanish:
   * it is counted, logged (first time and every 1000th after) and re-emitted as 'sink-error'.
   */
  private deliver(reading: PlcReading): void {
    try {
      this.emit('reading', reading);
    } catch (e) {
      const n = ++this.counters.sinkErrors;
      if (n === 1 || n % 1000 === 0)
        this.logger.error(
          { group: reading.group, err: (e as Error).message, sinkErrors: n },
          'reading not taken by its consumer',
        );
      if (this.listenerCount('sink-error') > 0) this.emit('sink-error', e, reading);
    }
  }

  private async readBlock(block: ReadBlock, priority: Priority): Promise<boolean[] | number[]> {
    this.counters.requests++;
    const data =
      block.area === 'coil' || block.area === 'discrete'
        ? await this.client.readBits(block.area, block.start, block.count, priority)
        : await this.client.readRegisters(block.area, block.start, block.count, priority);
    this.progressMs = performance.now();
    return data;
  }

  // ---- commands ---------------------------------------------------------------------------------

  private tag(name: string): TagConfig {
    const t = this.tags.get(name);
    if (!t) throw new UnknownTagError(this.id, name);
    return t;
  }

  private command<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.running)
      return Promise.reject(new ModbusConnectionError(`PLC "${this.id}" is not polled`));
    if (!this.link.isOpen())
      return Promise.reject(
        new ModbusConnectionError(`PLC "${this.id}" is disconnected (${this.link.description})`),
      );
    if (this.pendingCommands >= this.commandLimit)
      return Promise.reject(new CommandQueueFullError(this.id, this.commandLimit));
    this.pendingCommands++;
    this.counters.commands++;
    return this.queue.run(fn, 'urgent').finally(() => this.pendingCommands--);
  }

  /**
   * Write tag values (encoded with the codec, merged by planWrites), ahead of the next poll.
   * With readBack, the written tags are read again and returned. Rejects with UnknownTagError,
   * TagNotWritableError, CodecError, CommandQueueFullError or a Modbus error.
   */
  async write(
    values: Record<string, unknown>,
    opts: { readBack?: boolean } = {},
  ): Promise<{ values?: Record<string, TagValue> }> {
    const entries = Object.entries(values).map(([name, value]) => {
      const tag = this.tag(name);
      if (!tag.writable) throw new TagNotWritableError(this.id, name);
      return { tag, value };
    });
    const ops = planWrites(entries);
    return this.command(async () => {
      for (const op of ops) await this.execWrite(op);
      this.logger.info({ tags: Object.keys(values), requests: ops.length }, 'write done');
      if (!opts.readBack) return {};
      return { values: await this.readTags(entries.map((e) => e.tag)) };
    });
  }

  /** Read these tags now, ahead of the next poll. Rejects on any failed read. */
  async read(names: string[]): Promise<Record<string, TagValue>> {
    const tags = names.map((n) => this.tag(n));
    return this.command(() => this.readTags(tags));
  }

  private async execWrite(op: WriteOp): Promise<void> {
    this.counters.requests++;
    switch (op.kind) {
      case 'registers':
        if (op.values.length === 1)
          await this.client.writeRegister(op.start, op.values[0]!, 'urgent');
        else await this.client.writeRegisters(op.start, op.values, 'urgent');
        break;
      case 'coils':
        if (op.values.length === 1) await this.client.writeCoil(op.start, op.values[0]!, 'urgent');
        else await this.client.writeCoils(op.start, op.values, 'urgent');
        break;
      case 'bit': {
        // Read-modify-write inside one queued command: no poll or other command runs in between.
        const [reg] = await this.client.readRegisters('holding', op.address, 1, 'urgent');
        this.counters.requests++;
        await this.client.writeRegister(
          op.address,
          applyBit(this.tag(op.tag), reg!, op.value),
          'urgent',
        );
        break;
      }
    }
    this.progressMs = performance.now();
  }

  private async readTags(tags: TagConfig[]): Promise<Record<string, TagValue>> {
    const blocks = planReads(tags, {
      maxGap: 0,
      maxRegisters: this.config.maxRegistersPerRead,
      maxBits: this.config.maxBitsPerRead,
    });
    const out: Record<string, TagValue> = {};
    for (const b of blocks) {
      const res = decodeBlock(b, await this.readBlock(b, 'urgent'));
      const bad = Object.entries(res.errors)[0];
      if (bad) throw new ModbusResponseError(`tag "${bad[0]}": ${bad[1]}`);
      Object.assign(out, res.values);
    }
    return out;
  }
}
