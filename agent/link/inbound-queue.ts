// One bounded queue per inbound topic (cmd, config/set, ota/offer …): anyone who can publish on the
// broker can flood a topic, so what a topic's handler has not taken yet is bounded in count and bytes.
// What does not fit is dropped and counted (the topic may answer it cheaply, e.g. cmd/ack queue-full),
// and handlers run with a fixed concurrency, so a flood costs a bounded amount of memory and CPU and
// the poll loop keeps its cadence.

export interface InboundQueueOptions {
  /** Messages waiting (not yet handed to the handler) at most. */
  maxMessages: number;
  /** Bytes of the waiting messages at most. */
  maxBytes: number;
  /** Handler calls running at once. */
  concurrency: number;
  /**
   * A message that waited longer than this is dropped (given to onDrop) instead of handled: for
   * topics whose answer is due within a bound (cmd/ack within 100 ms), a late answer is a wrong one.
   */
  maxWaitMs?: number | undefined;
  /**
   * At most one handler start per this interval: for topics that are rare by nature (a config push)
   * and costly to check (1 MB hashed for a signature), a flood then costs a bounded share of the CPU.
   */
  minIntervalMs?: number | undefined;
}

export interface InboundQueueStats {
  received: number;
  dropped: number;
  waiting: number;
  running: number;
}

export type InboundHandler = (payload: Buffer) => unknown;

export class InboundQueue {
  private readonly items: Buffer[] = [];
  private readonly times: number[] = [];
  private head = 0;
  private bytes = 0;
  private running = 0;
  private received = 0;
  private dropped = 0;
  private scheduled = false;
  private lastStart = -Infinity;
  private pacer: NodeJS.Timeout | undefined;

  constructor(
    private readonly handler: InboundHandler,
    private opts: InboundQueueOptions,
    /** Called (synchronously, must be cheap) for every message dropped because the queue is full. */
    private readonly onDrop?: (payload: Buffer, dropped: number) => void,
  ) {}

  get options(): InboundQueueOptions {
    return { ...this.opts };
  }

  set(opts: InboundQueueOptions): void {
    this.opts = opts;
    this.schedule();
  }

  /** false: the queue was full and the message was dropped (and counted). */
  push(payload: Buffer): boolean {
    this.received++;
    const waiting = this.items.length - this.head;
    if (waiting >= this.opts.maxMessages || this.bytes + payload.length > this.opts.maxBytes) {
      this.dropped++;
      try {
        this.onDrop?.(payload, this.dropped);
      } catch {
        // answering a drop is best effort; the drop itself is counted
      }
      return false;
    }
    this.items.push(payload);
    this.times.push(performance.now());
    this.bytes += payload.length;
    this.schedule();
    return true;
  }

  /**
   * Handlers start from setImmediate, at most `concurrency` per event-loop turn, never chained in the
   * microtask queue: between two batches of a flood, timers (the poll loop) and I/O get their turn.
   */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  stats(): InboundQueueStats {
    return {
      received: this.received,
      dropped: this.dropped,
      waiting: this.items.length - this.head,
      running: this.running,
    };
  }

  private pump(): void {
    const maxWait = this.opts.maxWaitMs;
    const now = performance.now();
    // Late ones are answered as drops (cheap) until one is still in time.
    while (maxWait !== undefined && this.head < this.items.length) {
      if (now - this.times[this.head]! <= maxWait) break;
      const late = this.shift();
      this.dropped++;
      try {
        this.onDrop?.(late, this.dropped);
      } catch {
        // best effort, as in push()
      }
    }
    while (this.running < this.opts.concurrency && this.head < this.items.length) {
      const gap = (this.opts.minIntervalMs ?? 0) - (performance.now() - this.lastStart);
      if (gap > 0) {
        this.pacer ??= setTimeout(() => {
          this.pacer = undefined;
          this.pump();
        }, gap);
        this.pacer.unref();
        return;
      }
      this.lastStart = performance.now();
      const payload = this.shift();
      this.running++;
      let done: Promise<unknown>;
      try {
        done = Promise.resolve(this.handler(payload));
      } catch (e) {
        done = Promise.reject(e);
      }
      void done
        .catch(() => undefined) // handlers report their own failures; the queue only bounds them
        .finally(() => {
          this.running--;
          this.schedule();
        });
    }
    if (this.running < this.opts.concurrency && this.head < this.items.length) this.schedule();
  }

  private shift(): Buffer {
    const payload = this.items[this.head]!;
    this.items[this.head++] = EMPTY;
    this.bytes -= payload.length;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.times.splice(0, this.head);
      this.head = 0;
    }
    return payload;
  }
}

const EMPTY = Buffer.alloc(0);
