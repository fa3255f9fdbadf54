// Sparkplug B payloads ⇄ bytes with protobufjs over the Tahu schema (payload-schema.ts). 64-bit fields
// go in as bigint or decimal strings and come out as decimal strings, so int64/uint64 stay exact.
import protobuf from 'protobufjs';
import { SPARKPLUG_B_PROTO } from './payload-schema.js';

export interface SpMetric {
  name?: string;
  alias?: number;
  /** Epoch ms of the reading. */
  timestamp?: number;
  datatype?: number;
  isHistorical?: boolean;
  isTransient?: boolean;
  isNull?: boolean;
  intValue?: number;
  /** uint64 on the wire: a decimal string (decoded), or bigint/number/string (to encode). */
  longValue?: string | bigint | number;
  floatValue?: number;
  doubleValue?: number;
  booleanValue?: boolean;
  stringValue?: string;
}

export interface SpPayload {
  timestamp?: number;
  metrics: SpMetric[];
  seq?: number;
}

const root = protobuf.parse(SPARKPLUG_B_PROTO).root;
const Payload = root.lookupType('org.eclipse.tahu.protobuf.Payload');

/** A payload that is not a Sparkplug B protobuf (bad wire data or a wrong field type). */
export class SparkplugDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SparkplugDecodeError';
  }
}
export function isSparkplugDecodeError(e: unknown): e is SparkplugDecodeError {
  return e instanceof SparkplugDecodeError;
}

export function encodePayload(p: SpPayload): Buffer {
  const obj: Record<string, unknown> = { ...p, metrics: p.metrics.map(toWire) };
  return Buffer.from(Payload.encode(Payload.fromObject(obj)).finish());
}

function toWire(m: SpMetric): Record<string, unknown> {
  // fromObject takes 64-bit values as strings; bigint is not one of its inputs.
  return typeof m.longValue === 'bigint' ? { ...m, longValue: m.longValue.toString() } : { ...m };
}

export function decodePayload(buf: Uint8Array): SpPayload {
  let msg: protobuf.Message;
  try {
    msg = Payload.decode(buf);
  } catch (e) {
    throw new SparkplugDecodeError(`not a Sparkplug B payload: ${(e as Error).message}`);
  }
  const o = Payload.toObject(msg, { longs: String, defaults: false, arrays: true }) as {
    timestamp?: string;
    seq?: string;
    metrics: (Omit<SpMetric, 'alias' | 'timestamp'> & { alias?: string; timestamp?: string })[];
  };
  const out: SpPayload = {
    metrics: o.metrics.map((m) => {
      const { alias, timestamp, ...rest } = m;
      const r: SpMetric = { ...rest };
      if (alias !== undefined) r.alias = Number(alias);
      if (timestamp !== undefined) r.timestamp = Number(timestamp);
      return r;
    }),
  };
  if (o.timestamp !== undefined) out.timestamp = Number(o.timestamp);
  if (o.seq !== undefined) out.seq = Number(o.seq);
  return out;
}
