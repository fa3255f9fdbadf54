// The birth/death sequence number (Sparkplug 3.0 bdSeq): one per MQTT CONNECT, 0–255, kept on
// disk so a host can tell a restarted node's new session from the old one's late will; and the NDEATH
// payload that carries it (the will of each connection), read back from the will a client connected with.
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../platform/atomic-file.js';
import { BDSEQ_METRIC } from './aliases.js';
import { DataType } from './datatypes.js';
import { decodePayload, encodePayload } from './payload-codec.js';

export class BdSeqStore {
  private readonly path: string;
  private last: number | undefined;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'sparkplug', 'bdseq');
  }

  /** The last bdSeq handed out (from disk), undefined when none ever was. */
  current(): number | undefined {
    if (this.last !== undefined) return this.last;
    try {
      const n = Number(readFileSync(this.path, 'utf8').trim());
      if (Number.isInteger(n) && n >= 0 && n <= 255) this.last = n;
    } catch {
      // No file yet (first start) or unreadable: start from 0 as the spec's first session.
    }
    return this.last;
  }

  /** The bdSeq of the next CONNECT, written durably before it is used in a will. */
  next(): number {
    const prev = this.current();
    const n = prev === undefined ? 0 : (prev + 1) % 256;
    writeFileAtomicSync(this.path, `${n}\n`, 0o644);
    this.last = n;
    return n;
  }
}

/** An NDEATH carrying bdSeq (the will, or the death sent on a clean close or when the primary host goes). */
export function deathPayload(bdSeq: number): Buffer {
  return encodePayload({
    timestamp: Date.now(),
    metrics: [
      {
        name: BDSEQ_METRIC,
        timestamp: Date.now(),
        datatype: DataType.Int64,
        longValue: BigInt(bdSeq),
      },
    ],
  });
}

/** The bdSeq in the will this client connected with (each attempt has its own). */
export function willBdSeq(client: MqttClient): number | undefined {
  const payload = client.options.will?.payload;
  if (!payload || typeof payload === 'string') return undefined;
  try {
    const m = decodePayload(payload as Uint8Array).metrics.find((x) => x.name === BDSEQ_METRIC);
    return m?.longValue !== undefined ? Number(m.longValue) : undefined;
  } catch {
    return undefined;
  }
}
