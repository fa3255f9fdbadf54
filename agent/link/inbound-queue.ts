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
  private head = 0;
  private bytes = 0;
  private running = 0;
  private received = 0;
  private dropped = 0;
  private scheduled = false;

  constructor(
    private readonly handler: InboundHandler,
    private opts: InboundQueueOptions,
    /** Called (synchronously, must be cheap) for every message dropped because the queue is full. */
    private readonly onDrop?: (payload: Buffer, dropped: number) => void,
  ) {}

  get concurrency(): number {
    return this.opts.concurrency;
  }

  set(opts: InboundQueueOptions): void {
    this.opts = opts;
    this.pump();
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
    this.bytes += payload.length;
    // Start handlers on a later turn: a burst of messages read from one socket chunk is queued (and
    // bounded) first, instead of starting every handler inside the same turn.
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
    return true;
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
    while (this.running < this.opts.concurrency && this.head < this.items.length) {
      const payload = this.items[this.head]!;
      this.items[this.head++] = EMPTY;
      this.bytes -= payload.length;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head);
        this.head = 0;
      }
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
          this.pump();
        });
    }
  }
}

const EMPTY = Buffer.alloc(0);
