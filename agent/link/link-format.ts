// The one seam between the link and a data format other than our JSON topics (agent/sparkplug): what
// the will is, how a reading is stored in the outbox, how a stored entry is published, what happens
// when the connection comes up or goes, and which inbound topics outside wms/... it handles.
import type { MqttClient } from 'mqtt';
import type { OutboxEntry } from '../outbox/outbox.js';

export interface DataRecord {
  ts: string;
  values: Record<string, unknown>;
  quality: Record<string, 'bad'>;
  /** `values` as JSON text (exactly JSON.stringify(values)) when the producer has it already. */
  valuesJson?: string;
}

/** One outbox entry as it goes on the wire. */
export interface Rendered {
  topic: string;
  payload: Buffer;
  properties?: { contentType: string };
}

/** Lets the format hold data back (e.g. until its births are out, or while its host is offline). */
export interface DataGate {
  resume(): void;
  pause(): void;
}

export interface LinkFormat {
  /** The will of the next CONNECT (called once per connection attempt). */
  will(): { topic: string; payload: Buffer };
  /** The outbox payload of one reading (seq: the outbox's per-PLC seq). */
  record(plc: string, seq: number, data: DataRecord): Buffer;
  /** What to publish for a stored entry; undefined: nothing to send, the entry is done. */
  render(entry: OutboxEntry): Rendered | undefined;
  /** The connection is up; data flows only once the format calls gate.resume(). */
  up(client: MqttClient, gate: DataGate): void;
  down(): void;
  /** A graceful stop while connected: say goodbye (a will is not sent on a clean DISCONNECT). */
  close(client: MqttClient): Promise<void>;
  /** An inbound message outside the wms/ prefix: true when the format took it. */
  message(topic: string, payload: Buffer): boolean;
}
