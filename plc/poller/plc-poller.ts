// One PLC (one unit id): its link (a TCP connection shared with the other units behind the same
// host:port, or a shared RTU bus), its poll groups on drift-free timers, reconnect and per-unit
// backoff (capped exponential + jitter), and commands queued ahead of the polls.
// With tcpPipeline 1 (and always on RTU) the groups' cycles run one after another; on a pipelined
// TCP connection they overlap (CycleGate), each group's own cycles still in order.
// A pure reader/writer: report-by-exception happens in the core (ChangeFilter on 'reading').
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { PlcConfig, TagConfig } from '../config/schema.js';
import type { TagValue } from '../codec/codec.js';
import { planReads, type ReadBlock } from '../planner/planner.js';
import { ModbusConnectionError } from '../driver/errors.js';
import { ModbusClient } from '../driver/modbus-client.js';
import type { ModbusLink, SendStamp } from '../driver/modbus-link.js';
import { SerialBusRegistry, type SerialBus } from '../driver/serial-bus.js';
import { SerialQueue } from '../driver/serial-queue.js';
import { TcpLinkRegistry, type TcpLink } from '../driver/tcp-link.js';
import { backoffDelay } from '../../platform/backoff.js';
import { TickScheduler, spreadPhase, tickPhase } from './tick-scheduler.js';
import { CycleGate } from './cycle-gate.js';
import { readGroup, type GroupReadHost } from './read-group.js';
import { UnitBackoff } from './unit-backoff.js';
import { PlcCommands } from './plc-commands.js';
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
export { isUnitSilent } from './unit-backoff.js';

const MIN_CONNECT_TIMEOUT_MS = 3000;

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
  /** Commands, and the poll cycles when the link takes one transaction at a time. */
  private readonly queue = new SerialQueue();
  /** Poll cycles on a pipelined TCP connection (tcpPipeline > 1): several at once while the unit answers. */
  private readonly gate: CycleGate;
  private readonly groups: GroupPlan[];
  private readonly logger: Logger;
  private readonly buses: SerialBusRegistry;
  private readonly tcpLinks: TcpLinkRegistry;
  private readonly slot: { index: number; count: number } | undefined;
  private readonly unit: UnitBackoff;
  private readonly reader: GroupReadHost;
  private running = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  private current: PlcStatus;
  private progressMs = performance.now();
  private readonly commands: PlcCommands;
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
      /**
       * This PLC's place among the gateway's PLCs: its groups' phases are spread evenly within its
       * share of the interval. Without it, a hash of the PLC id and group places them.
       */
      slot?: { index: number; count: number };
    },
  ) {
    super();
    this.id = config.id;
    this.logger = deps.logger.child({ plc: config.id });
    this.buses = deps.buses ?? new SerialBusRegistry();
    this.slot = deps.slot;
    this.tcpLinks = deps.tcpLinks ?? new TcpLinkRegistry();
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
    this.unit = new UnitBackoff(config.reconnect.minMs, config.reconnect.maxMs);
    this.gate = new CycleGate(1);
    this.reader = {
      link: this.link,
      pipeline: this.pipeline,
      tcp: t.type === 'tcp',
      logger: this.logger,
      isRunning: () => this.running,
      read: (block, stamp) => this.readBlock(block, stamp),
      failed: () => void this.counters.errors++,
    };
    this.commands = new PlcCommands({
      config,
      client: this.client,
      link: this.link,
      queue: this.queue,
      logger: this.logger,
      limit: deps.options?.commandQueueLength ?? DEFAULT_COMMAND_QUEUE_LENGTH,
      isRunning: () => this.running,
      request: () => void this.counters.requests++,
      progress: () => void (this.progressMs = performance.now()),
    });
  }

  status(): PlcStatus {
    return { ...this.current };
  }

  lastProgressMs(): number {
    return this.progressMs;
  }

  stats(): PollerStats & { state: PlcState; queued: number } {
    return {
      ...this.counters,
      commands: this.commands.count,
      state: this.current.state,
      queued: this.queue.waiting + this.gate.waiting,
    };
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
      const intervalMs = this.config.groups[gi]!.intervalMs;
      const n = this.groups.length;
      g.scheduler.begin(
        this.slot
          ? spreadPhase((this.slot.index + gi / n) / this.slot.count, intervalMs)
          : tickPhase(`${this.id}#${gi}`, intervalMs),
      );
    });
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const g of this.groups) g.scheduler?.stop();
    clearTimeout(this.reconnectTimer);
    const stopped = new ModbusConnectionError(`PLC "${this.id}" poller stopped`);
    this.queue.clear(stopped);
    this.gate.clear(stopped);
    this.link.off('close', this.onLinkClose);
    if (this.config.transport.type === 'tcp') await this.tcpLinks.release(this.link as TcpLink);
    else await this.buses.release(this.link as SerialBus);
    // The job in progress ends fast: its requests fail once the link is closed (or finish on a shared bus).
    await this.queue.run(async () => undefined, 'urgent').catch(() => undefined);
    await this.gate.idle();
    this.logger.info('poller stopped');
  }

  // ---- connection -------------------------------------------------------------------------------

  private readonly onLinkClose = (err: unknown): void => {
    if (!this.running) return;
    this.gate.limit = 1; // until the unit answers on the new connection
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
    if (this.unit.active()) {
      this.backedOffReading(gi);
      return true;
    }
    g.busy = true;
    (this.pipeline > 1 ? this.gate.run(() => this.cycle(gi)) : this.queue.run(() => this.cycle(gi)))
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
    for (const t of g.tags) errors[t.name] = this.unit.failure;
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
    this.gate.limit = 1;
    const delay = this.unit.backOff(code);
    if (delay === undefined) return; // already backed off by a cycle that ran beside this one
    this.logger.debug(
      { delayMs: Math.round(delay), attempt: this.unit.attempts, error: code },
      'unit backed off',
    );
    this.setState(
      'disconnected',
      `${code}: unit ${this.config.unitId} does not answer via ${this.link.description}; its polls are backed off`,
    );
  }

  private async cycle(gi: number): Promise<void> {
    // Waited behind other cycles while the unit was backed off: no request, like a tick would.
    if (this.unit.active()) return this.backedOffReading(gi);
    const started = performance.now();
    const startMs = Date.now();
    const out = await readGroup(this.reader, gi, this.groups[gi]!.blocks);
    if (!out) return;
    const durationMs = performance.now() - started;
    this.counters.polls++;
    this.counters.lastDurationMs = durationMs;
    this.progressMs = performance.now();
    if (out.ok > 0) {
      this.attempt = 0;
      this.unit.answered();
    }
    let firstError: string | undefined;
    for (const name in out.errors) {
      firstError = out.errors[name];
      break;
    }
    if (out.ok === 0 && out.unitSilent !== undefined) this.backOffUnit(out.unitSilent);
    else if (this.link.isOpen()) {
      // A unit that answers gets its cycles overlapped again; one that timed out, one at a time.
      this.gate.limit = out.unitSilent === undefined ? this.pipeline : 1;
      if (firstError === undefined) this.setState('connected');
      else this.setState('degraded', firstError);
    }
    // ts: when the cycle's first request went out (not when its tick fired or it waited for a
    // transaction slot or the bus); the cycle start if no request went out at all.
    const tsMs = out.sentMs || startMs;
    this.deliver({
      plc: this.id,
      group: gi,
      ts: new Date(tsMs).toISOString(),
      tsMs,
      durationMs,
      values: out.values,
      errors: out.errors,
    });
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

  private async readBlock(block: ReadBlock, stamp: SendStamp): Promise<boolean[] | number[]> {
    this.counters.requests++;
    const data =
      block.area === 'coil' || block.area === 'discrete'
        ? await this.client.readBits(block.area, block.start, block.count, 'normal', stamp)
        : await this.client.readRegisters(block.area, block.start, block.count, 'normal', stamp);
    this.progressMs = performance.now();
    return data;
  }

  // ---- commands ---------------------------------------------------------------------------------

  /**
   * Write tag values (encoded with the codec, merged by planWrites), ahead of the next poll.
   * With readBack, the written tags are read again and returned. Rejects with UnknownTagError,
   * TagNotWritableError, CodecError, CommandQueueFullError or a Modbus error.
   */
  async write(
    values: Record<string, unknown>,
    opts: { readBack?: boolean } = {},
  ): Promise<{ values?: Record<string, TagValue> }> {
    return this.commands.write(values, opts);
  }

  /** Read these tags now, ahead of the next poll. Rejects on any failed read. */
  async read(names: string[]): Promise<Record<string, TagValue>> {
    return this.commands.read(names);
  }
}
