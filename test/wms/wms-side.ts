// Test helper: the WMS side of the conversation over a real broker — a data subscriber that acknowledges
// cumulatively (`plc/{plc}/ack` with the highest seq it holds without a gap), can stop acknowledging or
// go away (clean session: what is published meanwhile is lost at the broker), and can send heartbeats.
import mqtt, { type MqttClient } from 'mqtt';

export interface WmsSide {
  /** Every seq received per PLC, in arrival order (duplicates included). */
  received: Map<string, number[]>;
  /** Highest seq per PLC held without a gap from the first one ever received. */
  contiguous(plc: string): number;
  /** The last ack actually published per PLC. */
  lastAck: Map<string, number>;
  acking: boolean;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  publish(subtopic: string, payload: string | Buffer, opts?: mqtt.IClientPublishOptions): void;
  client(): MqttClient | undefined;
  close(): Promise<void>;
}

export function wmsSide(url: string, tenant: string, gateway: string): WmsSide {
  const prefix = `wms/${tenant}/${gateway}/`;
  const received = new Map<string, number[]>();
  const held = new Map<string, Set<number>>();
  const first = new Map<string, number>();
  const high = new Map<string, number>();
  let c: MqttClient | undefined;
  let ackTimer: NodeJS.Timeout | undefined;
  const side: WmsSide = {
    received,
    lastAck: new Map(),
    acking: true,
    contiguous(plc) {
      return high.get(plc) ?? 0;
    },
    async connect() {
      const client = mqtt.connect(url, { reconnectPeriod: 200, clean: true, protocolVersion: 5 });
      client.on('error', () => {});
      client.on('message', (topic, payload) => {
        const m = /plc\/([^/]+)\/data$/.exec(topic);
        if (!m) return;
        const { seq } = JSON.parse(payload.toString()) as { seq: number };
        const plc = m[1]!;
        const list = received.get(plc) ?? [];
        list.push(seq);
        received.set(plc, list);
        const set = held.get(plc) ?? new Set<number>();
        set.add(seq);
        held.set(plc, set);
        if (!first.has(plc)) {
          first.set(plc, seq);
          high.set(plc, seq - 1);
        }
        let h = high.get(plc)!;
        while (set.has(h + 1)) set.delete(++h);
        high.set(plc, h);
      });
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('WMS side could not connect')), 10_000);
        client.once('connect', () =>
          client.subscribe(`${prefix}plc/+/data`, { qos: 1 }, (err) => {
            clearTimeout(t);
            if (err) reject(err);
            else resolve();
          }),
        );
      });
      c = client;
      ackTimer = setInterval(() => {
        if (!side.acking || !c?.connected) return;
        for (const [plc, h] of high) {
          if (h <= 0) continue;
          c.publish(`${prefix}plc/${plc}/ack`, JSON.stringify({ seq: h }), { qos: 1 });
          side.lastAck.set(plc, h);
        }
      }, 250);
    },
    async disconnect() {
      clearInterval(ackTimer);
      const client = c;
      c = undefined;
      if (client) await client.endAsync(true);
    },
    publish(subtopic, payload, opts = { qos: 1 }) {
      c?.publish(subtopic.startsWith('wms/') ? subtopic : prefix + subtopic, payload, opts);
    },
    client: () => c,
    close: () => side.disconnect(),
  };
  return side;
}
