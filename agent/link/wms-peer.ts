// The WMS as a peer (CONTRACT.md §8): its heartbeat on wms/{tenant}/_wms/heartbeat. With a period set,
// no heartbeat for 3 periods makes it 'silent' (a healthy broker with a dead WMS consumer otherwise looks
// exactly like a working system); the next heartbeat makes it 'alive' again. A flood costs O(1) each.
import { EventEmitter } from 'node:events';

export type PeerState = 'off' | 'waiting' | 'alive' | 'silent';

/** Periods of silence after which the WMS is declared silent. */
export const SILENT_AFTER_PERIODS = 3;

export interface PeerView {
  state: PeerState;
  lastHeartbeat?: string;
  lastSeq?: number;
  periodSeconds: number;
}

/** The WMS fell silent (for silentForMs, 3 periods), or spoke again after silentForMs of silence. */
export type WmsPeerEvents = {
  silent: [silentForMs: number];
  alive: [silentForMs: number];
};

export class WmsPeer extends EventEmitter<WmsPeerEvents> {
  private last: { atMs: number; ts?: string; seq?: number } | undefined;
  private startedAtMs = Date.now();
  private st: PeerState = 'off';
  private timer: NodeJS.Timeout | undefined;
  private silentSinceMs = 0;
  /** The WMS cannot be heard without a broker: silence counts only while connected. */
  private listening = false;

  constructor(private periodSeconds: number) {
    super();
  }

  start(periodSeconds = this.periodSeconds): void {
    clearInterval(this.timer);
    this.periodSeconds = periodSeconds;
    if (periodSeconds <= 0) {
      this.st = 'off';
      return;
    }
    if (this.st === 'off') this.st = this.last ? 'alive' : 'waiting';
    // A quarter period: silence is noticed at most a quarter period after the third one has passed.
    this.timer = setInterval(() => this.tick(), Math.max(50, (periodSeconds * 1000) / 4));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Subscribed on a (re)connect: the WMS gets 3 periods from now before it counts as silent. */
  listen(nowMs = Date.now()): void {
    this.listening = true;
    this.startedAtMs = nowMs;
  }

  /** The broker connection is gone; a silence already declared stays until a heartbeat arrives. */
  deaf(): void {
    this.listening = false;
  }

  /** A heartbeat arrived (already parsed and checked by the caller). */
  beat(hb: { ts?: string; seq?: number }, nowMs = Date.now()): void {
    this.last = {
      atMs: nowMs,
      ...(hb.ts && { ts: hb.ts }),
      ...(hb.seq !== undefined && { seq: hb.seq }),
    };
    if (this.st === 'off') return;
    const was = this.st;
    this.st = 'alive';
    if (was === 'silent') this.emit('alive', nowMs - this.silentSinceMs);
  }

  tick(nowMs = Date.now()): void {
    if (this.st === 'off' || this.st === 'silent' || !this.listening) return;
    const since = Math.max(this.last?.atMs ?? 0, this.startedAtMs);
    const limitMs = SILENT_AFTER_PERIODS * this.periodSeconds * 1000;
    if (nowMs - since < limitMs) return;
    this.st = 'silent';
    this.silentSinceMs = since;
    this.emit('silent', nowMs - since);
  }

  view(): PeerView {
    const v: PeerView = { state: this.st, periodSeconds: this.periodSeconds };
    if (this.last) v.lastHeartbeat = new Date(this.last.atMs).toISOString();
    if (this.last?.seq !== undefined) v.lastSeq = this.last.seq;
    return v;
  }
}

/** A WMS heartbeat payload: a JSON object with an optional ts (string) and seq (number). */
export function parsePeerHeartbeat(payload: Buffer): { ts?: string; seq?: number } | string {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o.ts !== undefined && typeof o.ts !== 'string') return 'ts is not a string';
  if (o.seq !== undefined && (typeof o.seq !== 'number' || !Number.isFinite(o.seq)))
    return 'seq is not a number';
  return {
    ...(typeof o.ts === 'string' && { ts: o.ts.slice(0, 64) }),
    ...(typeof o.seq === 'number' && { seq: o.seq }),
  };
}
