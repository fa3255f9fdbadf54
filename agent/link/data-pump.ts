// Moves data messages from the outbox to the broker: up to `inflight` QoS 1 publishes at once, in outbox
// order (so order per PLC is kept), each removed from the outbox only when its PUBACK arrives.
import type { MqttClient } from 'mqtt';
import { FLAG_GZIP } from '../outbox/record.js';
import type { Outbox, OutboxEntry } from '../outbox/outbox.js';
import type { Rendered } from './link-format.js';
import { publishBatch, type BatchPublish } from './publish-batch.js';

/** MQTT 5 properties of a gzip-compressed data message (read-only, shared by every such message). */
const GZIP = Object.freeze({ contentType: 'application/gzip' });

export interface DataPumpOptions {
  outbox: Outbox;
  topicFor: (plc: string) => string;
  /** A data format's own rendering of an entry (agent/sparkplug); undefined: nothing to send. */
  render?: (e: OutboxEntry) => Rendered | undefined;
  qos: 0 | 1;
  protocolVersion: 4 | 5;
  inflight: number;
  onPublished: (n: number) => void;
}

export class DataPump {
  private client: MqttClient | undefined;
  private generation = 0;
  private scheduled = false;

  constructor(private opts: DataPumpOptions) {}

  set(o: Partial<Pick<DataPumpOptions, 'qos' | 'protocolVersion' | 'inflight'>>): void {
    this.opts = { ...this.opts, ...o };
  }

  attach(client: MqttClient): void {
    this.endDrain();
    this.generation++;
    this.opts.outbox.rewind();
    this.client = client;
    this.schedule();
  }

  /** The connection is gone: whatever was in flight is sent again on the next one. */
  detach(): void {
    this.endDrain();
    this.generation++;
    this.client = undefined;
    this.opts.outbox.rewind();
  }

  private drained: (() => void) | undefined;

  /**
   * The link is about to move to another broker: send nothing new on this connection and resolve once
   * every message in flight on it is acknowledged, or after ms, with how many are still in flight
   * (those are sent again on the next connection: at-least-once either way, fewer duplicates this way).
   */
  drain(ms: number): Promise<number> {
    this.endDrain();
    if (!this.client || this.opts.outbox.inflight === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      const t = setTimeout(() => this.endDrain(), ms);
      this.drained = () => {
        clearTimeout(t);
        resolve(this.opts.outbox.inflight);
      };
    });
  }

  private endDrain(): void {
    const d = this.drained;
    if (!d) return;
    this.drained = undefined;
    d();
    this.schedule(); // sending resumes (on this connection, or on the next one once attached)
  }

  schedule(): void {
    if (this.scheduled || !this.client) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pumping = false;
  private corked: MqttClient['stream'] | undefined;

  /**
   * QoS 0 (each message through publish()): hold the socket's writes until the current burst is
   * over, so the burst leaves in one write system call. mqtt-packet corks each packet only until the
   * next tick. QoS 1 needs none of it: a refill is one buffer (publish-batch.ts), written as it is.
   */
  private batchWrites(client: MqttClient): void {
    const stream = client.stream as MqttClient['stream'] & {
      cork?: () => void;
      uncork?: () => void;
    };
    if (this.corked || typeof stream?.cork !== 'function') return;
    stream.cork();
    this.corked = stream;
    setImmediate(() => {
      this.corked = undefined;
      stream.uncork?.();
    });
  }

  private pump(): void {
    const client = this.client;
    if (!client?.connected || this.pumping || this.drained) return;
    this.pumping = true;
    try {
      if (this.opts.qos === 0 && this.opts.inflight - this.opts.outbox.inflight > 0)
        this.batchWrites(client);
      this.publishSome(client);
    } finally {
      this.pumping = false;
    }
  }

  private publishSome(client: MqttClient): void {
    const { outbox, qos, protocolVersion, topicFor, render } = this.opts;
    const gen = this.generation;
    const room = this.opts.inflight - outbox.inflight;
    if (room <= 0) return;
    let skipped = 0;
    // QoS 1: the whole refill in one socket write (publish-batch.ts); QoS 0 through publish().
    const batch: BatchPublish[] = [];
    for (const e of outbox.take(room)) {
      let topic: string;
      let payload: Buffer;
      let properties: BatchPublish['properties'];
      if (render) {
        const r = render(e);
        if (!r) {
          outbox.ack(e); // nothing to send for it: done, and the window refills below
          skipped++;
          continue;
        }
        if (protocolVersion === 5 && r.properties) properties = r.properties;
        topic = r.topic;
        payload = r.payload;
      } else {
        if (protocolVersion === 5 && e.flags & FLAG_GZIP) properties = GZIP;
        topic = topicFor(e.key);
        payload = e.payload;
      }
      const cb = (err?: Error) => this.done(gen, e, err);
      if (qos === 1) batch.push({ topic, payload, properties, cb });
      // publish() may adjust the properties it is given: its own copy.
      else
        client.publish(
          topic,
          payload,
          properties ? { qos, properties: { ...properties } } : { qos },
          cb,
        );
    }
    if (batch.length > 0) publishBatch(client, batch);
    if (skipped > 0) this.schedule();
  }

  private done(gen: number, e: OutboxEntry, err: Error | undefined): void {
    if (gen !== this.generation || err) return; // a dead connection's callbacks; the entry is re-sent
    this.opts.outbox.ack(e);
    this.opts.onPublished(1);
    if (this.drained) {
      if (this.opts.outbox.inflight === 0) this.endDrain();
      return;
    }
    // Refill once half the window is free, after the PUBACKs that arrived together are all handled
    // (mqtt.js handles each in its own tick; the pump runs on the next turn of the loop): the refill
    // then goes out as one batch and one socket write, instead of one packet per PUBACK. Live data
    // never waits on it: with a window far from full every ack refills, and 'appended' schedules a
    // pump of its own.
    if (this.opts.outbox.inflight <= this.opts.inflight / 2) this.schedule();
  }
}
