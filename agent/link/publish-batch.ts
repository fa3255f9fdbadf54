// Several QoS 1 PUBLISH packets in one socket write. mqtt.js's publish() writes each packet as five
// or so small chunks through the stream (header, length, topic, id, payload): per message that is
// most of the client's cost, and what kept outbox replay below raw mqtt.js. Here each packet is
// generated whole by mqtt-packet (the encoder mqtt.js itself uses), the batch is concatenated and
// written once, and each packet is registered exactly as publish() registers it (message id, the
// `outgoing` callback, the outgoing store), so mqtt.js's own PUBACK handling completes it, and a
// PUBACK with an error reason code reaches the callback as an error, as with publish().
import type { MqttClient, IClientPublishOptions } from 'mqtt';
import mqttPacket from 'mqtt-packet';

export interface BatchPublish {
  topic: string;
  payload: Buffer;
  properties?: IClientPublishOptions['properties'];
  cb: (err?: Error) => void;
}

/** The parts of MqttClient that publish() itself uses (not in its typings, stable across 5.x). */
interface ClientInternals {
  connected: boolean;
  disconnecting: boolean;
  options: { protocolVersion?: number };
  outgoing: Record<number, { volatile: boolean; cmd: string; cb: (err?: Error) => void }>;
  outgoingStore: { put(packet: object, cb: (err?: Error) => void): unknown };
  _nextId(): number | null;
  _storeProcessing: boolean;
  _storeProcessingQueue: unknown[];
  stream: { write(b: Buffer): boolean };
}

function usable(c: Partial<ClientInternals>): c is ClientInternals {
  return (
    typeof c._nextId === 'function' &&
    typeof c.outgoing === 'object' &&
    typeof c.outgoingStore?.put === 'function' &&
    Array.isArray(c._storeProcessingQueue) &&
    typeof c.stream?.write === 'function'
  );
}

/**
 * Publish items at QoS 1 in one socket write. Items that cannot go this way (the client is
 * replaying its own store, has no free message id, or lacks the internals) go through publish()
 * instead, in order, so the result is the same either way.
 */
export function publishBatch(client: MqttClient, items: readonly BatchPublish[]): void {
  const c = client as unknown as Partial<ClientInternals>;
  const fast =
    usable(c) &&
    c.connected &&
    !c.disconnecting &&
    !c._storeProcessing &&
    c._storeProcessingQueue.length === 0;
  let i = 0;
  if (fast) {
    const v5 = c.options.protocolVersion === 5;
    const opts = { protocolVersion: c.options.protocolVersion ?? 4 } as const;
    const bufs: Buffer[] = [];
    let bytes = 0;
    for (; i < items.length; i++) {
      const it = items[i]!;
      const messageId = c._nextId();
      if (messageId === null) break;
      const packet: mqttPacket.IPublishPacket = {
        cmd: 'publish',
        topic: it.topic,
        payload: it.payload,
        qos: 1,
        retain: false,
        dup: false,
        messageId,
      };
      if (v5 && it.properties) packet.properties = it.properties;
      const buf = mqttPacket.generate(packet, opts);
      c.outgoing[messageId] = { volatile: false, cmd: 'publish', cb: it.cb };
      // The memory store answers synchronously; a failing put fails that message like publish() does.
      c.outgoingStore.put({ ...packet }, (err) => {
        if (err) it.cb(err);
      });
      bufs.push(buf);
      bytes += buf.length;
    }
    if (bufs.length > 0) c.stream.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs, bytes));
  }
  for (; i < items.length; i++) {
    const it = items[i]!;
    const o: IClientPublishOptions = { qos: 1 };
    if (it.properties) o.properties = it.properties;
    client.publish(it.topic, it.payload, o, (err) => it.cb(err));
  }
}
