// The PLC simulator: a register model with moving values and injected faults, served over
// Modbus TCP (node:net) and/or Modbus RTU (a serial path). Programmatic API for tests, demo and bench.
import { tagSchema, tagWidth, type Area, type TagConfig } from '../config/schema.js';
import { decodeBit, decodeRegisters, isCodecError, type TagValue } from '../codec/codec.js';
import { FaultSet, type FaultInput } from './faults.js';
import {
  DEFAULT_TICK_MS,
  parseSimulatorMap,
  SimulatorMapError,
  type MapEntry,
  type SimulatorMap,
} from './map.js';
import { generate, overlaps, storeValue } from './moving-values.js';
import { RegisterModel } from './register-model.js';
import type { PduHandlerOptions } from './pdu-handler.js';
import { startRtuServer, type RtuServer, type RtuServerOptions } from './rtu-server.js';
import { startTcpServer, type TcpServer } from './tcp-server.js';

/** Where a value lives: a tag as in the gateway config (name optional). */
export type ValueSpec = Omit<Partial<TagConfig>, 'area' | 'address' | 'type'> &
  Pick<TagConfig, 'area' | 'address' | 'type'>;

interface LiveEntry extends MapEntry {
  unit: number;
  frozen: boolean;
  seed: { bucket: number; value: TagValue };
  last: TagValue | undefined;
}

/** Model + generators + faults, independent of the wire. */
export class SimulatorCore {
  readonly model = new RegisterModel();
  readonly faults = new FaultSet();
  private readonly entries: LiveEntry[] = [];
  private readonly startedAt = performance.now();
  private timer: NodeJS.Timeout | undefined;
  readonly tickMs: number;
  /** Requests served, by function code. */
  readonly requestsByFc = new Uint32Array(256);
  private requestHook:
    ((unit: number, fc: number, address: number, count: number) => void) | undefined;

  constructor(map: SimulatorMap) {
    this.tickMs = map.tickMs;
    map.units.forEach((u, ui) => {
      this.model.addUnit(u.id, u.sizes);
      u.entries.forEach((e, ri) => {
        const live: LiveEntry = {
          ...e,
          unit: u.id,
          frozen: false,
          seed: { bucket: -1, value: 0 },
          last: undefined,
        };
        try {
          this.update(live, 0);
        } catch (err) {
          if (isCodecError(err))
            throw new SimulatorMapError(`units.${ui}.registers.${ri}`, err.message);
          throw err;
        }
        this.entries.push(live);
      });
    });
    for (const f of map.faults) this.faults.add(f);
    if (this.entries.some((e) => e.gen.kind !== 'value')) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
  }

  private update(e: LiveEntry, t: number): void {
    const v = generate(e.tag, e.gen, t, e.seed);
    if (v === e.last) return;
    storeValue(this.model.unit(e.unit)!, e.tag, v);
    e.last = v;
  }

  tick(): void {
    const t = performance.now() - this.startedAt;
    for (const e of this.entries)
      if (!e.frozen && e.gen.kind !== 'value')
        try {
          this.update(e, t);
        } catch {
          e.frozen = true; // a generator that leaves its type's range stops rather than crash the server
        }
  }

  /** Options for a server: the hooks stay live, so onRequest can be set after the server started. */
  handlerOptions(unknownUnit: PduHandlerOptions['unknownUnit']): PduHandlerOptions {
    const counts = this.requestsByFc;
    return {
      unknownUnit,
      onWrite: this.onWrite,
      onRequest: (unit, fc, address, count) => {
        counts[fc]!++;
        this.requestHook?.(unit, fc, address, count);
      },
    };
  }

  /** Observe every request (unit, function code, address, count); undefined to stop. */
  onRequest(
    fn: ((unit: number, fc: number, address: number, count: number) => void) | undefined,
  ): void {
    this.requestHook = fn;
  }

  /** A client (or setValue) wrote here: stop moving what it overwrote, so the written value stays. */
  onWrite = (unit: number, area: Area, address: number, count: number): void => {
    for (const e of this.entries)
      if (e.unit === unit && e.tag.area === area && !e.frozen && overlaps(e, address, count))
        e.frozen = true;
  };

  private unitMem(unit: number) {
    const mem = this.model.unit(unit);
    if (!mem) throw new RangeError(`the simulator serves no unit ${unit}`);
    return mem;
  }

  setValue(unit: number, spec: ValueSpec, value: unknown): void {
    const tag = tagSchema.parse({ name: 'set', ...spec });
    const mem = this.unitMem(unit);
    this.onWrite(
      unit,
      tag.area,
      tag.address,
      tag.area === 'coil' || tag.area === 'discrete' ? 1 : tagWidth(tag),
    );
    storeValue(mem, tag, value);
  }

  getValue(unit: number, spec: ValueSpec): TagValue {
    const tag = tagSchema.parse({ name: 'get', ...spec });
    const mem = this.unitMem(unit);
    if (tag.area === 'coil' || tag.area === 'discrete') return mem[tag.area][tag.address] === 1;
    const regs = mem[tag.area];
    if (tag.type === 'bit') return decodeBit(tag, regs[tag.address]!);
    return decodeRegisters(
      tag,
      Array.from(regs.subarray(tag.address, tag.address + tagWidth(tag))),
    );
  }

  /** The live memory of one area (writes to it are seen by the next request). */
  registers(unit: number, area: Area): Uint8Array | Uint16Array {
    return this.unitMem(unit).area(area);
  }

  setFault(f: FaultInput): number {
    return this.faults.add(f);
  }
  clearFault(id: number): void {
    this.faults.remove(id);
  }
  clearFaults(): void {
    this.faults.clear();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

function toMap(map: SimulatorMap | unknown | undefined): SimulatorMap {
  if (map === undefined)
    return { tickMs: DEFAULT_TICK_MS, units: [{ id: 1, sizes: {}, entries: [] }], faults: [] };
  if (
    map &&
    typeof map === 'object' &&
    'units' in map &&
    Array.isArray(map.units) &&
    map.units.every((u) => 'entries' in u)
  )
    return map as SimulatorMap;
  return parseSimulatorMap(map);
}

export interface Simulator extends Omit<
  SimulatorCore,
  'tick' | 'stop' | 'onWrite' | 'handlerOptions'
> {
  host: string;
  port: number;
  core: SimulatorCore;
  clients(): number;
  close(): Promise<void>;
}

export interface SimulatorOptions {
  host?: string;
  /** 0 = a free port. */
  port?: number;
  /** A parsed map, a raw map document (validated), or nothing (unit 1, all zero). */
  map?: SimulatorMap | unknown;
  maxClients?: number;
}

function facade<T extends object>(core: SimulatorCore, extra: T) {
  return Object.assign(extra, {
    core,
    model: core.model,
    faults: core.faults,
    tickMs: core.tickMs,
    setValue: core.setValue.bind(core),
    getValue: core.getValue.bind(core),
    registers: core.registers.bind(core),
    setFault: core.setFault.bind(core),
    clearFault: core.clearFault.bind(core),
    clearFaults: core.clearFaults.bind(core),
    onRequest: core.onRequest.bind(core),
    requestsByFc: core.requestsByFc,
  });
}

/** A Modbus TCP simulator. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const core = new SimulatorCore(toMap(opts.map));
  const host = opts.host ?? '127.0.0.1';
  let server: TcpServer;
  try {
    server = await startTcpServer(core.model, core.faults, {
      host,
      port: opts.port ?? 0,
      maxClients: opts.maxClients,
      handler: core.handlerOptions('exception'),
    });
  } catch (e) {
    core.stop();
    throw e;
  }
  return facade(core, {
    host,
    port: server.port,
    clients: () => server.clients(),
    async close() {
      core.stop();
      await server.close();
    },
  }) as unknown as Simulator;
}

export interface RtuSimulator extends Omit<Simulator, 'port' | 'host' | 'clients'> {
  path: string;
  /** Requests served per unit id. */
  served: Map<number, number>;
  /** Line discipline seen by the RTU server: overlapping requests, shortest silence before a request. */
  line: { overlaps: number; minSilenceMs: number };
}

/** A Modbus RTU simulator on a serial path (e.g. one end of a socat pty pair). */
export async function startRtuSimulator(
  opts: Omit<RtuServerOptions, 'handler'> & {
    map?: SimulatorMap | unknown;
    /** Serve the register model of another simulator (e.g. the TCP one's `core`) instead of a new one. */
    core?: SimulatorCore;
  },
): Promise<RtuSimulator> {
  const owned = !opts.core;
  const core = opts.core ?? new SimulatorCore(toMap(opts.map));
  let server: RtuServer;
  try {
    server = await startRtuServer(core.model, core.faults, {
      ...opts,
      handler: core.handlerOptions('silence'),
    });
  } catch (e) {
    if (owned) core.stop();
    throw e;
  }
  return facade(core, {
    path: opts.path,
    served: server.served,
    line: server.line,
    async close() {
      if (owned) core.stop();
      await server.close();
    },
  }) as unknown as RtuSimulator;
}
