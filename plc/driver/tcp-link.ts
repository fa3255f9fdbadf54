// Modbus TCP: one connection per endpoint (host:port), shared by every PLC (unit id) behind it, as a
// serial-to-Ethernet gateway expects. Connects with its own timeout (a black-holed address must not
// hang) and keeps at most `pipeline` transactions in flight; MBAP transaction ids pair the answers.
// Requests that go out together (several groups' ticks in one timer phase, the next requests woken by
// a burst of answers) leave in one socket write: the socket is corked at the first and uncorked once
// the event loop turns (setImmediate), as the MQTT link does for its PUBLISH bursts.
import { Socket } from 'node:net';
import { ModbusRTU } from './modbus-serial.js';
import { ModbusConnectionError, isModbusConnectionError, isModbusTimeoutError } from './errors.js';
import {
  ModbusLink,
  type ModbusAnswer,
  type ModbusRequest,
  type SendStamp,
} from './modbus-link.js';
import { SlotLimiter } from './slot-limiter.js';
import type { Priority } from './serial-queue.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;

export interface TcpLinkOptions {
  host: string;
  port: number;
  /** Give up a TCP connect after this long. */
  connectTimeoutMs?: number;
  /** Transactions in flight at once on this connection (all unit ids together). Default 1. */
  pipeline?: number;
}

export function endpointKey(host: string, port: number): string {
  return `${host.toLowerCase()}:${port}`;
}

export class TcpLink extends ModbusLink {
  readonly description: string;
  readonly pipeline: number;
  private socket: Socket | undefined;
  private opening: Promise<void> | undefined;
  private retired = false;
  private readonly slots: SlotLimiter;
  /** Unit ids that answered on this connection (an exception frame is an answer too). */
  private readonly answered = new Set<number>();
  /** Unit ids that timed out since the last answer of any unit. */
  private readonly silent = new Set<number>();
  /** PLCs using this link (set by the registry). */
  users = 1;
  /** TCP connections made (tests count them: one per endpoint). */
  connections = 0;
  /** The socket corked for the burst under way (uncorked on setImmediate). */
  private corked: Socket | undefined;
  /** Stamps of readings whose first request is in that burst. */
  private readonly stamps: SendStamp[] = [];

  constructor(private readonly opts: TcpLinkOptions) {
    super();
    this.description = `tcp ${opts.host}:${opts.port}`;
    this.pipeline = Math.max(1, Math.trunc(opts.pipeline ?? 1));
    this.slots = new SlotLimiter(this.pipeline);
    this.setMaxListeners(0); // one 'close' listener per PLC behind the endpoint, up to 247 unit ids
  }

  /** Highest number of transactions that were in flight at once. */
  get maxInFlight(): number {
    return this.slots.maxBusy;
  }

  /** Idempotent: every PLC behind the endpoint calls it; the connection is made once. */
  open(): Promise<void> {
    if (this.isOpen()) return Promise.resolve();
    if (this.retired)
      return Promise.reject(new ModbusConnectionError(`${this.description}: released`));
    this.opening ??= this.doOpen().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const stale = this.socket;
    this.socket = undefined;
    this.client = undefined;
    stale?.destroy();
    const socket = await this.connect();
    if (this.retired) {
      socket.destroy();
      throw new ModbusConnectionError(`${this.description}: released while connecting`);
    }
    const client = new ModbusRTU();
    await client.linkTCP(socket, { port: this.opts.port });
    this.connections++;
    this.answered.clear();
    this.silent.clear();
    this.socket = socket;
    this.client = client;
    socket.once('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.client = undefined;
      this.linkDown('connection closed');
    });
  }

  /**
   * A timeout is the unit's, not the connection's, while other units still answer: the connection
   * is closed (so the next open starts in step) only when every unit that answered on it, or with
   * none yet every PLC using it, timed out since the last answer — a half-open socket, a rebooted
   * gateway. A dead unit behind a gateway never costs the healthy ones their connection.
   */
  override async exec(
    unitId: number,
    req: ModbusRequest,
    timeoutMs: number,
    priority: Priority = 'normal',
    stamp?: SendStamp,
  ): Promise<ModbusAnswer> {
    await this.slots.acquire(priority);
    try {
      const answer = await super.exec(unitId, req, timeoutMs, undefined, stamp);
      this.answeredBy(unitId);
      return answer;
    } catch (e) {
      if (!isModbusTimeoutError(e)) {
        if (!isModbusConnectionError(e)) this.answeredBy(unitId);
      } else if (this.allSilent(unitId) && this.socket) {
        const s = this.socket;
        this.socket = undefined;
        this.client = undefined;
        this.linkDown(`nothing answered on the connection for ${timeoutMs} ms`);
        s.destroy();
      }
      throw e;
    } finally {
      this.slots.release();
    }
  }

  /**
   * Cork at the first request of a burst; modbus-serial writes each request in a microtask of its
   * own, so the uncork waits for the loop to turn and the burst leaves in one write (one syscall).
   * The readings whose first request is in the burst are stamped when it leaves.
   */
  protected override beforeSend(stamp: SendStamp | undefined): void {
    const s = this.socket;
    if (s === undefined) return super.beforeSend(stamp);
    if (this.corked === undefined) {
      this.corked = s;
      s.cork();
      setImmediate(this.uncork);
    }
    if (stamp !== undefined) this.stamps.push(stamp);
  }

  private readonly uncork = (): void => {
    const s = this.corked;
    this.corked = undefined;
    // Stamped before the write: the PLC may take its values as soon as the bytes leave.
    if (this.stamps.length > 0) {
      const now = Date.now();
      for (const st of this.stamps) if (st.sentMs === 0) st.sentMs = now;
      this.stamps.length = 0;
    }
    if (s !== undefined && !s.destroyed) s.uncork();
  };

  private answeredBy(unitId: number): void {
    this.answered.add(unitId);
    this.silent.clear();
  }

  private allSilent(unitId: number): boolean {
    this.silent.add(unitId);
    for (const u of this.answered) if (!this.silent.has(u)) return false;
    return this.answered.size > 0 || this.silent.size >= this.users;
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    this.client = undefined;
    if (!s) return;
    this.linkDown('closed');
    if (!s.destroyed) s.destroy();
  }

  /** For good: the last PLC behind the endpoint is gone; a connect still under way is dropped. */
  async retire(): Promise<void> {
    this.retired = true;
    this.slots.clear(new ModbusConnectionError(`${this.description}: released`));
    await this.close();
  }

  private connect(): Promise<Socket> {
    const timeoutMs = this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new ModbusConnectionError(`${this.description}: connect timed out after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ModbusConnectionError(`${this.description}: ${e.code ?? e.message}`, e));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        // Errors after connect show up as 'close'; an unhandled 'error' would crash the process.
        socket.on('error', () => undefined);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 10_000);
        resolve(socket);
      });
      socket.connect({ host: this.opts.host, port: this.opts.port });
    });
  }
}

/** Shares one TcpLink per endpoint among the PLCs behind it (reference counted). */
export class TcpLinkRegistry {
  private readonly links = new Map<string, { link: TcpLink; users: number }>();

  acquire(opts: TcpLinkOptions): TcpLink {
    const key = endpointKey(opts.host, opts.port);
    const entry = this.links.get(key);
    if (entry) {
      entry.link.users = ++entry.users;
      return entry.link;
    }
    const link = new TcpLink(opts);
    this.links.set(key, { link, users: 1 });
    return link;
  }

  async release(link: TcpLink): Promise<void> {
    for (const [key, entry] of this.links) {
      if (entry.link !== link) continue;
      entry.link.users = --entry.users;
      if (entry.users > 0) return;
      this.links.delete(key);
      await link.retire();
      return;
    }
  }

  /** PLCs using the endpoint's connection (0: none). */
  users(host: string, port: number): number {
    return this.links.get(endpointKey(host, port))?.users ?? 0;
  }

  get(host: string, port: number): TcpLink | undefined {
    return this.links.get(endpointKey(host, port))?.link;
  }
}
