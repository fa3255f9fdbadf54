// Modbus RTU: one serial bus (one device path) shared by several PLCs (unit ids).
// The bus sends one request at a time and keeps the line silent for the inter-frame gap between frames.
import { ModbusRTU } from './modbus-serial.js';
import { ModbusConnectionError, isModbusTimeoutError } from './errors.js';
import {
  ModbusLink,
  type ModbusAnswer,
  type ModbusRequest,
  type SendStamp,
} from './modbus-link.js';
import { SerialQueue, type Priority } from './serial-queue.js';

export interface SerialSettings {
  path: string;
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  dataBits: 7 | 8;
  stopBits: 1 | 2;
  /** Silence between frames; default 3.5 character times (1.75 ms above 19200 baud). */
  interFrameMs?: number | undefined;
}

/** Modbus over serial line v1.02 §2.5.1.1: t3.5, fixed at 1.75 ms above 19200 baud. */
export function interFrameDelayMs(s: SerialSettings): number {
  if (s.interFrameMs !== undefined) return s.interFrameMs;
  if (s.baudRate > 19_200) return 1.75;
  const bitsPerChar = 1 + s.dataBits + (s.parity === 'none' ? 0 : 1) + s.stopBits;
  return (3.5 * bitsPerChar * 1000) / s.baudRate;
}

/** Silence after a timeout, so a late answer is not taken for the next request's. */
export const DEFAULT_FLUSH_AFTER_TIMEOUT_MS = 20;

export class SerialBus extends ModbusLink {
  readonly description: string;
  readonly gapMs: number;
  private readonly queue = new SerialQueue();
  private opening: Promise<void> | undefined;
  private lastFrameEnd = 0;
  /** Requests sent on this bus (for tests and stats). */
  requests = 0;
  /** Highest number of requests on the wire at once — must stay 1. */
  maxConcurrent = 0;
  private inFlight = 0;

  constructor(readonly settings: SerialSettings) {
    super();
    this.description = `rtu ${settings.path}`;
    this.gapMs = interFrameDelayMs(settings);
    this.setMaxListeners(0); // one 'close' listener per PLC on the bus, up to 247 unit ids
  }

  /** Idempotent: every PLC on the bus calls it; the port opens once. */
  open(): Promise<void> {
    if (this.isOpen()) return Promise.resolve();
    this.opening ??= this.doOpen().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const client = new ModbusRTU();
    const { path, baudRate, parity, dataBits, stopBits } = this.settings;
    try {
      await client.connectRTUBuffered(path, { baudRate, parity, dataBits, stopBits });
    } catch (e) {
      throw new ModbusConnectionError(
        `${this.description}: ${(e as Error).message ?? String(e)}`,
        e,
      );
    }
    client.on('error', () => undefined); // surfaces as 'close' or as request errors
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.linkDown('serial port closed');
    });
    this.client = client;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    this.linkDown('closed');
    await new Promise<void>((resolve) => {
      try {
        c.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** Queue the request behind the others on the bus; urgent (commands) go first. */
  override exec(
    unitId: number,
    req: ModbusRequest,
    timeoutMs: number,
    priority: Priority = 'normal',
    stamp?: SendStamp,
  ): Promise<ModbusAnswer> {
    return this.queue.run(async () => {
      const wait = this.lastFrameEnd + this.gapMs - performance.now();
      if (wait > 0) await sleep(Math.ceil(wait)); // timers are whole ms: round up, never under the gap
      this.inFlight++;
      this.maxConcurrent = Math.max(this.maxConcurrent, this.inFlight);
      this.requests++;
      try {
        return await super.exec(unitId, req, timeoutMs, undefined, stamp);
      } catch (e) {
        if (isModbusTimeoutError(e)) {
          await sleep(DEFAULT_FLUSH_AFTER_TIMEOUT_MS);
          this.discardInput();
        }
        throw e;
      } finally {
        this.inFlight--;
        this.lastFrameEnd = performance.now();
      }
    }, priority);
  }

  private discardInput(): void {
    // modbus-serial's buffered RTU port keeps unmatched bytes; drop them so they cannot pair with the next request.
    const port = (this.client as unknown as { _port?: { _buffer?: Buffer } } | undefined)?._port;
    if (port && Buffer.isBuffer(port._buffer)) port._buffer = Buffer.alloc(0);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Shares one SerialBus per device path among the PLCs that use it (reference counted). */
export class SerialBusRegistry {
  private readonly buses = new Map<string, { bus: SerialBus; users: number }>();

  acquire(settings: SerialSettings): SerialBus {
    const entry = this.buses.get(settings.path);
    if (entry) {
      entry.users++;
      return entry.bus;
    }
    const bus = new SerialBus(settings);
    this.buses.set(settings.path, { bus, users: 1 });
    return bus;
  }

  async release(bus: SerialBus): Promise<void> {
    const entry = this.buses.get(bus.settings.path);
    if (!entry || entry.bus !== bus) return;
    if (--entry.users > 0) return;
    this.buses.delete(bus.settings.path);
    await bus.close();
  }

  get(path: string): SerialBus | undefined {
    return this.buses.get(path)?.bus;
  }
}
