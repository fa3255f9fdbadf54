// Shared pieces of the PLC tests: PLC configs, an independent register encoder, event helpers.
import type { EventEmitter } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { plcSchema, type PlcConfig } from '../../plc/config/schema.js';

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function tcpPlc(
  id: string,
  port: number,
  groups: { intervalMs: number; tags: Record<string, unknown>[] }[],
  extra: Record<string, unknown> = {},
): PlcConfig {
  return plcSchema.parse({
    id,
    transport: { type: 'tcp', host: '127.0.0.1', port },
    timeoutMs: 300,
    reconnect: { minMs: 50, maxMs: 200 },
    groups,
    ...extra,
  });
}

/**
 * Registers a PLC holds for a value, computed independently of plc/codec: big-endian bytes
 * (ABCD), then BADC/DCBA swap the bytes of each word and CDAB/DCBA reverse the word order.
 */
export function rawWords(type: string, order: string, value: number | bigint | string): number[] {
  let be: Buffer;
  switch (type) {
    case 'int16':
      be = Buffer.alloc(2);
      be.writeInt16BE(Number(value));
      break;
    case 'uint16':
      be = Buffer.alloc(2);
      be.writeUInt16BE(Number(value));
      break;
    case 'int32':
      be = Buffer.alloc(4);
      be.writeInt32BE(Number(value));
      break;
    case 'uint32':
      be = Buffer.alloc(4);
      be.writeUInt32BE(Number(value));
      break;
    case 'float32':
      be = Buffer.alloc(4);
      be.writeFloatBE(Number(value));
      break;
    case 'int64':
      be = Buffer.alloc(8);
      be.writeBigInt64BE(BigInt(value));
      break;
    case 'uint64':
      be = Buffer.alloc(8);
      be.writeBigUInt64BE(BigInt(value));
      break;
    case 'float64':
      be = Buffer.alloc(8);
      be.writeDoubleBE(Number(value));
      break;
    default:
      throw new Error(`rawWords: ${type}`);
  }
  let words = Array.from({ length: be.length / 2 }, (_, i) => be.readUInt16BE(2 * i));
  if (order === 'BADC' || order === 'DCBA') words = words.map((w) => ((w & 0xff) << 8) | (w >> 8));
  if ((order === 'CDAB' || order === 'DCBA') && words.length > 1) words.reverse();
  return words;
}

/** Resolve with the next `n` events of `name` (each arg list's first value), or reject after timeoutMs. */
export function nextEvents<T>(
  em: EventEmitter,
  name: string,
  n: number,
  timeoutMs = 5000,
  filter: (v: T) => boolean = () => true,
): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const got: T[] = [];
    const on = (v: T) => {
      if (!filter(v)) return;
      got.push(v);
      if (got.length >= n) {
        cleanup();
        resolve(got);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timeout: ${got.length}/${n} '${name}' events`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      em.off(name, on);
    };
    em.on(name, on);
  });
}

export { sleep } from '../helpers/wait.js';

/** Intervals between successive timestamps. */
export function intervals(ts: number[]): number[] {
  return ts.slice(1).map((t, i) => t - ts[i]!);
}

/**
 * Timing of readings meant to come every `every` ms. The machine running the tests is shared (2 cores,
 * other suites), so a process can be descheduled for tens of ms at any time: tests judge the typical
 * interval (median), the drift (median offset from the tick grid, first half vs second half), and keep
 * the outliers far below the delay a real coupling (a timeout, a reconnect) would cause.
 */
export function timing(ts: number[], every: number) {
  const iv = intervals(ts);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  // Offset of each reading from its nearest tick on the grid first + k*every.
  const offsets = ts.map((t) => {
    const d = t - ts[0]!;
    return d - Math.round(d / every) * every;
  });
  const half = Math.floor(offsets.length / 2);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    n: ts.length,
    meanInterval: round(iv.reduce((a, b) => a + b, 0) / iv.length),
    medianDev: round(median(iv.map((x) => Math.abs(x - every)))),
    maxInterval: round(Math.max(...iv)),
    drift: round(Math.abs(median(offsets.slice(half)) - median(offsets.slice(1, half)))),
  };
}

/**
 * Longest time this process could not run its timers (descheduled on a busy machine, GC): lets a test
 * tell its own delays (which need a free event loop to happen) from the machine's.
 */
export function loopStalls(): { maxMs: () => number; stop: () => void } {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  return { maxMs: () => h.max / 1e6, stop: () => h.disable() };
}
