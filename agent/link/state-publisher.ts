// What the link publishes besides data: retained state topics (status, register and whatever the core
// sets), re-sent on every connect so a WMS that subscribes late still sees them, and best-effort
// events (alerts, heartbeats), held in a bounded queue while disconnected and sent on the next connect.
import { gzipSync } from 'node:zlib';
import type { MqttClient } from 'mqtt';
import type { Logger } from '../../platform/logger.js';
import type { WmsConfig } from './wms-link-types.js';

export interface StatePublisherOptions {
  log: Logger;
  /** The gateway's own topic prefix (wms/{tenant}/{gateway}/). */
  prefix: string;
  version: string;
  wms: () => WmsConfig;
  client: () => MqttClient | undefined;
  /** The `register` payload (without ts), published retained on every connect (CONTRACT.md §8). */
  registration: (() => Record<string, unknown>) | undefined;
}

export class StatePublisher {
  private retained = new Map<string, unknown>();
  private events: { subtopic: string; payload: unknown }[] = [];
  private eventsDropped = 0;

  constructor(private readonly o: StatePublisherOptions) {}

  publishRetained(subtopic: string, payload: unknown): void {
    this.retained.set(subtopic, payload);
    const client = this.o.client();
    if (client?.connected) this.send(client, subtopic, payload, true);
  }

  /** Events are best effort: the promise resolves once acknowledged, or at once when queued while down. */
  publishEvent(subtopic: string, payload: unknown): Promise<void> {
    const client = this.o.client();
    if (client?.connected)
      return new Promise((resolve) => this.send(client, subtopic, payload, false, resolve));
    const wms = this.o.wms();
    this.events.push({ subtopic, payload });
    if (this.events.length > wms.eventQueueLength) {
      const old = this.events.shift()!;
      this.eventsDropped++;
      this.o.log.warn(
        { topic: old.subtopic, dropped: this.eventsDropped, limit: wms.eventQueueLength },
        'event queue full while disconnected: oldest event dropped',
      );
    }
    return Promise.resolve();
  }

  /** A new connection: the online status, the registration and every retained topic again. */
  birth(client: MqttClient, since: Date): void {
    const birth = { state: 'online', version: this.o.version, ts: since.toISOString() };
    this.send(client, 'status', birth, true);
    this.sendRegistration(client);
    for (const [sub, v] of this.retained) this.send(client, sub, v, true);
  }

  /** Events queued while disconnected, oldest first (after the data path is open again). */
  flushEvents(client: MqttClient): void {
    for (const e of this.events.splice(0)) this.send(client, e.subtopic, e.payload, false);
  }

  sendRegistration(client: MqttClient): void {
    const reg = this.o.registration?.();
    if (!reg) return;
    this.send(client, 'register', { ...reg, ts: new Date().toISOString() }, true);
  }

  send(
    client: MqttClient,
    subtopic: string,
    value: unknown,
    retain: boolean,
    done?: () => void,
  ): void {
    const { payload, properties } = this.encode(value);
    const opts = { qos: 1 as const, retain, ...(properties && { properties }) };
    client.publish(this.o.prefix + subtopic, payload, opts, (err) => {
      if (err) this.o.log.debug({ topic: subtopic, err: err.message }, 'publish not acknowledged');
      done?.();
    });
  }

  encode(value: unknown): { payload: Buffer; properties?: { contentType: string } } {
    const wms = this.o.wms();
    const json = Buffer.from(JSON.stringify(value));
    if (wms.compression !== 'gzip') return { payload: json };
    return wms.protocolVersion === 5
      ? { payload: gzipSync(json), properties: { contentType: 'application/gzip' } }
      : { payload: gzipSync(json) };
  }
}
