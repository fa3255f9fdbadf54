// Server-sent events for the dashboard: the gateway's events, with PLC values coalesced per PLC
// (a tablet needs a few updates a second, not every 10 ms poll) and a keep-alive comment.
import type { ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { GatewayView, ValuesEvent } from '../health/gateway-view.js';
import { jsonText } from './json-text.js';

export interface EventStreamOptions {
  maxClients: number;
  flushMs: number;
  keepAliveMs: number;
  /** How often connected pages get each PLC's last read time (staleness); default 2 s. */
  readsEveryMs?: number;
}

export class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly pendingValues = new Map<string, ValuesEvent>();
  private readonly flushTimer: NodeJS.Timeout;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly readsTimer: NodeJS.Timeout;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly onValues = (e: ValuesEvent) => this.queueValues(e);

  constructor(
    private readonly view: GatewayView,
    extra: Array<[EventEmitter | undefined, string, string]>,
    private readonly o: EventStreamOptions,
  ) {
    const on = (em: EventEmitter, ev: string, fn: (...a: unknown[]) => void) => {
      em.on(ev, fn);
      this.unsubscribe.push(() => em.off(ev, fn));
    };
    // 'values' is subscribed only while a client is attached: no work for listeners not there.
    for (const ev of ['status', 'alert', 'maintenance']) on(view, ev, (e) => this.broadcast(ev, e));
    for (const [em, ev, as] of extra) if (em) on(em, ev, (e) => this.broadcast(as, e));
    this.flushTimer = setInterval(() => this.flush(), o.flushMs);
    this.keepAlive = setInterval(() => this.write(': keep-alive\n\n'), o.keepAliveMs);
    // Staleness on the page: each PLC's last read, even when report by exception sends no value.
    // Built only while a page is connected.
    this.readsTimer = setInterval(() => {
      if (!this.clients.size) return;
      this.broadcast(
        'reads',
        view.snapshot().plcs.map((p) => ({
          id: p.id,
          state: p.state,
          lastReadTs: p.lastReadTs,
          error: p.error,
        })),
      );
    }, o.readsEveryMs ?? 2000);
    this.flushTimer.unref();
    this.keepAlive.unref();
    this.readsTimer.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Attach a response; false when the client limit is reached. */
  add(res: ServerResponse, first: unknown): boolean {
    if (this.clients.size >= this.o.maxClients) return false;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: 2000\nevent: state\ndata: ${jsonText(first)}\n\n`);
    if (this.clients.size === 0) this.view.on('values', this.onValues);
    this.clients.add(res);
    res.on('close', () => {
      if (!this.clients.delete(res) || this.clients.size > 0) return;
      this.view.off('values', this.onValues);
      this.pendingValues.clear();
    });
    return true;
  }

  /** Merge a read into what waits for the next flush: the latest value and quality of every tag. */
  private queueValues(v: ValuesEvent): void {
    if (!v || typeof v.plc !== 'string' || !v.values || typeof v.values !== 'object') return;
    const cur = this.pendingValues.get(v.plc);
    if (!cur)
      return void this.pendingValues.set(v.plc, {
        plc: v.plc,
        ts: v.ts,
        values: { ...v.values },
        quality: { ...v.quality },
      });
    cur.ts = v.ts;
    for (const [tag, value] of Object.entries(v.values)) {
      cur.values[tag] = value;
      if (v.quality?.[tag]) cur.quality![tag] = v.quality[tag];
      else delete cur.quality![tag];
    }
  }

  broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    let text: string;
    try {
      text = jsonText(data);
    } catch {
      return; // not serialisable (a cycle): an event lost, never the gateway's emit() thrown into
    }
    this.write(`event: ${event}\ndata: ${text}\n\n`);
  }

  private flush(): void {
    if (!this.pendingValues.size) return;
    for (const v of this.pendingValues.values()) this.broadcast('values', v);
    this.pendingValues.clear();
  }

  private write(chunk: string): void {
    for (const c of this.clients) {
      // A client that cannot keep up is dropped rather than buffered without bound.
      if (c.writableLength > 1024 * 1024) c.destroy();
      else c.write(chunk);
    }
  }

  close(): void {
    clearInterval(this.flushTimer);
    clearInterval(this.keepAlive);
    clearInterval(this.readsTimer);
    for (const u of this.unsubscribe) u();
    this.view.off('values', this.onValues);
    for (const c of this.clients) c.end();
    this.clients.clear();
  }
}
