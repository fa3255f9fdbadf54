// A Modbus link: one modbus-serial client over one TCP connection or one serial port.
// Every request names its unit id and timeout explicitly and is validated before it resolves.
// Why modbus-serial: a maintained client for both Modbus TCP (MBAP) and RTU (CRC) framing; this file
// adds what it leaves to callers — typed errors, a guaranteed settle (also on close), response checks.
import { EventEmitter } from 'node:events';
import type { ModbusRTUClient } from './modbus-serial.js';
import {
  ModbusConnectionError,
  ModbusExceptionError,
  ModbusResponseError,
  ModbusTimeoutError,
} from './errors.js';
import type { Priority } from './serial-queue.js';

export type ModbusRequest =
  | { fc: 1 | 2; address: number; count: number }
  | { fc: 3 | 4; address: number; count: number }
  | { fc: 5; address: number; value: boolean }
  | { fc: 6; address: number; value: number }
  | { fc: 15; address: number; values: boolean[] }
  | { fc: 16; address: number; values: number[] };

export type ModbusAnswer = boolean[] | number[] | undefined;

/**
 * When a reading's first request went out: `sentMs` is 0 until a request carrying this stamp is
 * written to the connection (after any wait for a transaction slot or the RTU bus; on TCP when the
 * corked burst it is part of leaves), then Date.now() of that moment. A poll reading's `ts` comes from it, so queueing never ages the data.
 */
export interface SendStamp {
  sentMs: number;
}

/** Slack on top of modbus-serial's own timer: the sweep only fails requests it never called back. */
const GUARD_SLACK_MS = 50;
/** How often a link looks for requests that outlived their timeout (one timer per link, not per request). */
const GUARD_SWEEP_MS = 250;

type Callback = (err: unknown, res: unknown) => void;
interface RawClient {
  writeFC1(u: number, a: number, n: number, cb: Callback): void;
  writeFC2(u: number, a: number, n: number, cb: Callback): void;
  writeFC3(u: number, a: number, n: number, cb: Callback): void;
  writeFC4(u: number, a: number, n: number, cb: Callback): void;
  writeFC5(u: number, a: number, v: boolean, cb: Callback): void;
  writeFC6(u: number, a: number, v: number, cb: Callback): void;
  writeFC15(u: number, a: number, v: boolean[], cb: Callback): void;
  writeFC16(u: number, a: number, v: number[], cb: Callback): void;
}

export function describeRequest(unitId: number, r: ModbusRequest): string {
  const n = 'count' in r ? r.count : 'values' in r ? r.values.length : 1;
  return ` (unit ${unitId}, FC${r.fc}, address ${r.address}, count ${n})`;
}

/** What a link tells its users: it went down, with the error every request in flight failed with. */
export type ModbusLinkEvents = { close: [err: ModbusConnectionError] };

export abstract class ModbusLink extends EventEmitter<ModbusLinkEvents> {
  protected client: ModbusRTUClient | undefined;
  /** Requests in flight: how to fail each, and when it is overdue. */
  private readonly pending = new Map<
    (e: unknown) => void,
    { deadline: number; timeoutMs: number; ctx: () => string }
  >();
  private sweeper: NodeJS.Timeout | undefined;

  abstract readonly description: string;
  abstract open(): Promise<void>;
  abstract close(): Promise<void>;

  isOpen(): boolean {
    return this.client?.isOpen === true;
  }

  /** Send one request and wait for its validated answer. Rejects with the typed Modbus errors only. */
  exec(
    unitId: number,
    req: ModbusRequest,
    timeoutMs: number,
    _priority?: Priority, // the subclasses order requests (RTU bus queue, TCP transaction slots)
    stamp?: SendStamp,
  ): Promise<ModbusAnswer> {
    const client = this.client;
    const ctx = () => describeRequest(unitId, req); // built only for an error: this is the hot path
    if (!client || !client.isOpen)
      return Promise.reject(new ModbusConnectionError(`${this.description} is not open${ctx()}`));
    return new Promise<ModbusAnswer>((resolve, reject) => {
      let done = false;
      const settle = (err: unknown, value?: ModbusAnswer) => {
        if (done) return;
        done = true;
        this.pending.delete(fail);
        if (err) reject(err);
        else resolve(value);
      };
      const fail = (e: unknown) => settle(e);
      this.pending.set(fail, {
        deadline: performance.now() + timeoutMs + GUARD_SLACK_MS,
        timeoutMs,
        ctx,
      });
      this.sweeper ??= setInterval(() => this.sweep(), GUARD_SWEEP_MS).unref();
      const cb: Callback = (err, res) => {
        if (err) return settle(mapError(err, req.fc, timeoutMs, ctx));
        try {
          settle(undefined, validate(req, res, ctx));
        } catch (e) {
          settle(e);
        }
      };
      client.setTimeout(timeoutMs);
      this.beforeSend(stamp !== undefined && stamp.sentMs === 0 ? stamp : undefined);
      const raw = client as unknown as RawClient;
      try {
        switch (req.fc) {
          case 1:
            return raw.writeFC1(unitId, req.address, req.count, cb);
          case 2:
            return raw.writeFC2(unitId, req.address, req.count, cb);
          case 3:
            return raw.writeFC3(unitId, req.address, req.count, cb);
          case 4:
            return raw.writeFC4(unitId, req.address, req.count, cb);
          case 5:
            return raw.writeFC5(unitId, req.address, req.value, cb);
          case 6:
            return raw.writeFC6(unitId, req.address, req.value, cb);
          case 15:
            return raw.writeFC15(unitId, req.address, req.values, cb);
          case 16:
            return raw.writeFC16(unitId, req.address, req.values, cb);
        }
      } catch (e) {
        settle(new ModbusConnectionError(`${this.description}: send failed${ctx()}`, e));
      }
    });
  }

  /**
   * Called right before a request is handed to modbus-serial, with the stamp of a reading whose first
   * request this is: it goes out now (TCP corks its socket and stamps the burst when it leaves).
   */
  protected beforeSend(stamp: SendStamp | undefined): void {
    if (stamp !== undefined) stamp.sentMs = Date.now();
  }

  /** A request modbus-serial never called back (neither answer nor timeout) fails as a timeout. */
  private sweep(): void {
    const now = performance.now();
    for (const [fail, p] of this.pending)
      if (now > p.deadline) fail(new ModbusTimeoutError(p.timeoutMs, p.ctx()));
    if (this.pending.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Fail every request in flight (the link is gone) and tell listeners once. */
  protected linkDown(reason: string): void {
    const err = new ModbusConnectionError(`${this.description}: ${reason}`);
    for (const fail of [...this.pending.keys()]) fail(err);
    this.pending.clear();
    this.emit('close', err);
  }
}

function mapError(err: unknown, fc: number, timeoutMs: number, ctx: () => string): Error {
  const e = err as { modbusCode?: unknown; errno?: unknown; name?: unknown; message?: unknown };
  if (typeof e?.modbusCode === 'number') return new ModbusExceptionError(e.modbusCode, fc, ctx());
  if (e?.errno === 'ETIMEDOUT' || e?.name === 'TransactionTimedOutError')
    return new ModbusTimeoutError(timeoutMs, ctx());
  if (e?.name === 'PortNotOpenError' || e?.errno === 'ECONNREFUSED')
    return new ModbusConnectionError(`link not open${ctx()}`, err);
  return new ModbusResponseError(`${String(e?.message ?? err)}${ctx()}`);
}

function validate(req: ModbusRequest, res: unknown, ctx: () => string): ModbusAnswer {
  const r = res as {
    data?: unknown;
    address?: unknown;
    value?: unknown;
    state?: unknown;
    length?: unknown;
  };
  const bad = (what: string) => new ModbusResponseError(`${what}${ctx()}`);
  switch (req.fc) {
    case 1:
    case 2: {
      // Bits come packed in bytes: the answer holds ceil(count/8)*8 flags; the padding is dropped.
      if (!Array.isArray(r?.data) || r.data.length < req.count || r.data.length >= req.count + 8)
        throw bad(
          `answer holds ${Array.isArray(r?.data) ? r.data.length : 0} bits, asked ${req.count}`,
        );
      return (r.data as boolean[]).slice(0, req.count);
    }
    case 3:
    case 4:
      if (!Array.isArray(r?.data) || r.data.length !== req.count)
        throw bad(
          `answer holds ${Array.isArray(r?.data) ? r.data.length : 0} registers, asked ${req.count}`,
        );
      return r.data as number[];
    case 5:
      if (r?.address !== req.address || r?.state !== req.value)
        throw bad('FC5 echo does not match');
      return undefined;
    case 6:
      if (r?.address !== req.address || r?.value !== req.value)
        throw bad('FC6 echo does not match');
      return undefined;
    case 15:
    case 16:
      if (r?.address !== req.address || r?.length !== req.values.length)
        throw bad(`FC${req.fc} echo does not match`);
      return undefined;
  }
}
