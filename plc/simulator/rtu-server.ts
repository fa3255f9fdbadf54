// Modbus RTU server side on a serial path (a real port, or one end of a socat pty pair in tests).
// Frames are found by function-code length (and the CRC); a device only answers its own unit ids.
import { SerialPort } from 'serialport';
import { handlePdu, type PduHandlerOptions } from './pdu-handler.js';
import type { FaultSet } from './faults.js';
import type { RegisterModel } from './register-model.js';

/** Bytes of garbage kept while hunting for a frame; an RTU frame is at most 256 bytes. */
const MAX_RTU_FRAME = 256;
/** Silence after which a partial frame is thrown away (resynchronise after line noise). */
export const DEFAULT_RTU_RESYNC_MS = 50;

const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

export function crc16(buf: Uint8Array): number {
  let crc = 0xffff;
  for (const b of buf) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ b) & 0xff]!;
  return crc;
}

/** Length of the request frame starting at buf[0] (unit, fc, ...), or 0 if not yet known. */
function requestLength(buf: Buffer): number {
  if (buf.length < 2) return 0;
  const fc = buf[1]!;
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) return buf.length >= 7 ? 9 + buf[6]! : 0;
  return -1; // unknown function: the frame ends at the next silence
}

export interface RtuServerOptions {
  path: string;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
  resyncMs?: number;
  /** Read on every request, so hooks set later (onRequest) take effect. */
  handler: PduHandlerOptions;
}

export interface RtuServer {
  path: string;
  /** Requests answered or acted on, per unit id (tests check several units on one bus). */
  served: Map<number, number>;
  /** What the line saw (tests check the master's discipline): requests that arrived while an answer
   * was still due, and the shortest silence between an answer and the next request. */
  line: { overlaps: number; minSilenceMs: number };
  close(): Promise<void>;
}

export async function startRtuServer(
  model: RegisterModel,
  faults: FaultSet,
  opts: RtuServerOptions,
): Promise<RtuServer> {
  const port = new SerialPort({
    path: opts.path,
    baudRate: opts.baudRate ?? 19_200,
    parity: opts.parity ?? 'even',
    dataBits: opts.dataBits ?? 8,
    stopBits: opts.stopBits ?? 1,
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  port.on('error', () => undefined);
  const handlerOpts = opts.handler;
  const served = new Map<number, number>();
  const timers = new Set<NodeJS.Timeout>();
  let buf: Buffer = Buffer.alloc(0);
  let resync: NodeJS.Timeout | undefined;
  const line = { overlaps: 0, minSilenceMs: Infinity };
  let answersDue = 0;
  let lastAnswerAt = -Infinity;
  const send = (out: Buffer) => {
    if (!port.isOpen) return;
    port.write(out);
    lastAnswerAt = performance.now();
  };

  const respond = (frame: Buffer) => {
    const unit = frame[0]!;
    if (answersDue > 0) line.overlaps++;
    line.minSilenceMs = Math.min(line.minSilenceMs, performance.now() - lastAnswerAt);
    const reply = handlePdu(model, faults, unit, frame.subarray(1, frame.length - 2), handlerOpts);
    if (!model.unit(unit)) return;
    served.set(unit, (served.get(unit) ?? 0) + 1);
    if (unit === 0 || reply.kind !== 'answer') return; // broadcast, silence, or drop (no connection to drop)
    const out = Buffer.allocUnsafe(reply.pdu.length + 3);
    out[0] = unit;
    reply.pdu.copy(out, 1);
    out.writeUInt16LE(crc16(out.subarray(0, out.length - 2)), out.length - 2);
    if (reply.delayMs > 0) {
      answersDue++;
      const t = setTimeout(() => {
        timers.delete(t);
        answersDue--;
        send(out);
      }, reply.delayMs);
      timers.add(t);
    } else send(out);
  };

  port.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    if (buf.length > MAX_RTU_FRAME) buf = Buffer.alloc(0);
    for (;;) {
      const need = requestLength(buf);
      if (need === 0 || need === -1 || buf.length < need) break;
      const frame = buf.subarray(0, need);
      buf = buf.subarray(need);
      if (crc16(frame.subarray(0, need - 2)) !== frame.readUInt16LE(need - 2)) {
        buf = Buffer.alloc(0); // corrupt: drop everything and wait for the next silence
        break;
      }
      respond(frame);
    }
    clearTimeout(resync);
    if (buf.length)
      resync = setTimeout(() => {
        // An unknown function code's frame ends at the silence: answer it if its CRC holds.
        const b = buf;
        buf = Buffer.alloc(0);
        if (b.length >= 4 && crc16(b.subarray(0, b.length - 2)) === b.readUInt16LE(b.length - 2))
          respond(b);
      }, opts.resyncMs ?? DEFAULT_RTU_RESYNC_MS);
  });

  return {
    path: opts.path,
    served,
    line,
    async close() {
      clearTimeout(resync);
      for (const t of timers) clearTimeout(t);
      if (!port.isOpen) return;
      await new Promise<void>((resolve) => port.close(() => resolve()));
    },
  };
}
