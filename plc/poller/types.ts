// What a poller emits and reports, and its options (named bounds with defaults).
import type { TagValue } from '../codec/codec.js';

export type PlcState = 'connected' | 'disconnected' | 'degraded';

export interface PlcReading {
  plc: string;
  /** Index of the poll group in the PLC's config. */
  group: number;
  /** ISO-8601 UTC of the read. */
  ts: string;
  tsMs: number;
  durationMs: number;
  values: Record<string, TagValue>;
  /** tag → error code (docs/reason-codes.md), e.g. illegal-data-address, timeout, disconnected, bad-response. */
  errors: Record<string, string>;
}

export interface PlcStatus {
  plc?: string;
  state: PlcState;
  error?: string;
  ts: string;
}

/**
 * What a PlcPoller emits (kept here, not in plc-poller.ts, so the poller's own file stays about polling):
 * its status changes, each reading, and a reading whose consumer threw.
 */
export type PlcPollerEvents = {
  status: [status: PlcStatus];
  reading: [reading: PlcReading];
  'sink-error': [err: unknown, reading: PlcReading];
};

export interface PollerStats {
  polls: number;
  /** Block reads that failed. */
  errors: number;
  /** Ticks skipped because the previous cycle of the group was still running or the timer was late. */
  overruns: number;
  lastDurationMs: number;
  reconnects: number;
  commands: number;
  requests: number;
  /** Readings the consumer of 'reading' failed to take (e.g. it could not store them). Never silent. */
  sinkErrors: number;
}

export interface PollerOptions {
  /** Give up a TCP connect after this long (default: max(timeoutMs, 3000)). */
  connectTimeoutMs?: number;
  /** Commands waiting per PLC before new ones are rejected. */
  commandQueueLength?: number;
  /**
   * Default of a PLC's `tcpPipeline` when its config leaves it out: transactions in flight at once
   * on a TCP connection (Modbus TCP transaction ids keep them apart). 1 (default) suits every PLC;
   * more cuts a cycle of n blocks from n round trips to about n/depth, for PLCs that accept several
   * transactions. RTU is always 1.
   */
  tcpPipeline?: number;
}

export const DEFAULT_COMMAND_QUEUE_LENGTH = 100;
export const DEFAULT_TCP_PIPELINE = 1;
export const MAX_TCP_PIPELINE = 16;
