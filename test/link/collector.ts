// Test helper: a subscriber that records every data message's seq per PLC, and checks at-least-once
// delivery: every seq from 1 (or `from`) up to the highest seen arrived, and none arrived ahead of its turn.
import { chmodSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

export interface Collector {
  client: MqttClient;
  seqs: Map<string, number[]>;
  messages: { topic: string; payload: Buffer; retain: boolean }[];
  close(): Promise<void>;
}

/** clean: false + a fixed client id: with a persistent broker the subscription survives a broker restart. */
export async function collect(
  url: string,
  topic: string,
  opts: mqtt.IClientOptions = {},
): Promise<Collector> {
  const client = mqtt.connect(url, { reconnectPeriod: 100, protocolVersion: 4, ...opts });
  const seqs = new Map<string, number[]>();
  const messages: Collector['messages'] = [];
  client.on('message', (t, payload, packet) => {
    messages.push({ topic: t, payload, retain: packet.retain });
    if (!t.endsWith('/data')) return;
    const m = JSON.parse(payload.toString()) as { plc: string; seq: number };
    const list = seqs.get(m.plc) ?? [];
    list.push(m.seq);
    seqs.set(m.plc, list);
  });
  client.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      client.end(true);
      reject(new Error(`collector could not subscribe at ${url}`));
    }, 10_000);
    client.once('connect', () =>
      client.subscribe(topic, { qos: 1 }, (err) => {
        clearTimeout(t);
        if (err) reject(err);
        else resolve();
      }),
    );
  });
  return {
    client,
    seqs,
    messages,
    close: () => new Promise<void>((r) => client.end(true, {}, () => r())),
  };
}

/** Problems with one PLC's received seqs (empty = every seq first..last, in order, duplicates allowed). */
export function gapsAndDisorder(received: number[], first = 1): string[] {
  const problems: string[] = [];
  let max = first - 1;
  for (const s of received) {
    if (s > max + 1) problems.push(`seq ${s} arrived while ${max + 1} was still missing`);
    if (s > max) max = s;
  }
  return problems.slice(0, 10);
}

/** A mosquitto whose sessions survive its kill and restart (autosaved every second). */
export async function persistentBroker(): Promise<{
  broker: Broker;
  cleanup: () => void;
  /** Resolves once the broker has saved its sessions to disk after this call (a later autosave). */
  saved: () => Promise<void>;
}> {
  const d = tmpDir('mosq-db-');
  chmodSync(d.path, 0o777); // mosquitto started as root writes as the mosquitto user
  // The subscriber's session (and its queued messages) must survive the broker's kill and restart.
  const broker = await startMosquitto({
    extra: `persistence true\npersistence_location ${d.path}/\nautosave_interval 1`,
  });
  const db = join(d.path, 'mosquitto.db');
  const saved = () => {
    const since = Date.now();
    return waitFor(
      () => existsSync(db) && statSync(db).mtimeMs > since,
      10_000,
      'the broker to save its sessions',
    );
  };
  return { broker, cleanup: d.cleanup, saved };
}
