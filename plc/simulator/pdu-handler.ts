// Serves one Modbus request PDU from the register model: FC 1,2,3,4,5,6,15,16 with the standard
// exception answers, plus injected faults. Shared by the TCP and RTU servers.
import type { Area } from '../config/schema.js';
import type { FaultSet } from './faults.js';
import type { RegisterModel } from './register-model.js';

export type Reply =
  { kind: 'answer'; pdu: Buffer; delayMs: number } | { kind: 'silence' } | { kind: 'drop' };

export const EXC_ILLEGAL_FUNCTION = 1;
export const EXC_ILLEGAL_DATA_ADDRESS = 2;
export const EXC_ILLEGAL_DATA_VALUE = 3;
export const EXC_GATEWAY_TARGET_FAILED = 11;

const SILENCE: Reply = { kind: 'silence' };
const DROP: Reply = { kind: 'drop' };

export interface PduHandlerOptions {
  /** TCP answers unknown unit ids like a gateway (exception 11); an RTU device stays silent. */
  unknownUnit: 'exception' | 'silence';
  /** Called after a client wrote to an area (the simulator stops moving what was written). */
  onWrite?: (unit: number, area: Area, address: number, count: number) => void;
  /** Called for every request that reaches a served unit (tests record the order of requests). */
  onRequest?: ((unit: number, fc: number, address: number, count: number) => void) | undefined;
}

function answer(pdu: Buffer): Reply {
  return { kind: 'answer', pdu, delayMs: 0 };
}

function exception(fc: number, code: number): Reply {
  return answer(Buffer.from([(fc | 0x80) & 0xff, code]));
}

export function handlePdu(
  model: RegisterModel,
  faults: FaultSet,
  unitId: number,
  pdu: Buffer,
  opts: PduHandlerOptions,
): Reply {
  if (pdu.length < 1) return SILENCE;
  const fc = pdu[0]!;
  const mem = model.unit(unitId);
  if (!mem)
    return opts.unknownUnit === 'exception' ? exception(fc, EXC_GATEWAY_TARGET_FAILED) : SILENCE;
  const address = pdu.length >= 3 ? pdu.readUInt16BE(1) : 0;
  const count = fc === 5 || fc === 6 ? 1 : pdu.length >= 5 ? pdu.readUInt16BE(3) : 0;
  opts.onRequest?.(unitId, fc, address, count);
  const fault = faults.size ? faults.match(unitId, fc, address, count) : undefined;
  if (fault) {
    if (fault.action === 'exception') return exception(fc, fault.code);
    if (fault.action === 'silence') return SILENCE;
    if (fault.action === 'drop') return DROP;
  }
  const reply = serve(mem, fc, pdu, address, count, unitId, opts);
  if (fault && reply.kind === 'answer') {
    if (fault.action === 'delay') return { ...reply, delayMs: fault.ms };
    // 'short': a frame that ends early (always at least the function code and one byte).
    if (fault.action === 'short')
      return answer(reply.pdu.subarray(0, Math.max(2, reply.pdu.length - 2)));
  }
  return reply;
}

function serve(
  mem: NonNullable<ReturnType<RegisterModel['unit']>>,
  fc: number,
  pdu: Buffer,
  address: number,
  count: number,
  unitId: number,
  opts: PduHandlerOptions,
): Reply {
  switch (fc) {
    case 1:
    case 2: {
      if (pdu.length !== 5 || count < 1 || count > 2000)
        return exception(fc, EXC_ILLEGAL_DATA_VALUE);
      const bits = fc === 1 ? mem.coil : mem.discrete;
      if (address + count > bits.length) return exception(fc, EXC_ILLEGAL_DATA_ADDRESS);
      const n = (count + 7) >> 3;
      const out = Buffer.alloc(2 + n);
      out[0] = fc;
      out[1] = n;
      for (let i = 0; i < count; i++) if (bits[address + i]) out[2 + (i >> 3)]! |= 1 << (i & 7);
      return answer(out);
    }
    case 3:
    case 4: {
      if (pdu.length !== 5 || count < 1 || count > 125)
        return exception(fc, EXC_ILLEGAL_DATA_VALUE);
      const regs = fc === 3 ? mem.holding : mem.input;
      if (address + count > regs.length) return exception(fc, EXC_ILLEGAL_DATA_ADDRESS);
      const out = Buffer.allocUnsafe(2 + 2 * count);
      out[0] = fc;
      out[1] = 2 * count;
      for (let i = 0; i < count; i++) out.writeUInt16BE(regs[address + i]!, 2 + 2 * i);
      return answer(out);
    }
    case 5: {
      if (pdu.length !== 5) return exception(fc, EXC_ILLEGAL_DATA_VALUE);
      const v = pdu.readUInt16BE(3);
      if (v !== 0xff00 && v !== 0) return exception(fc, EXC_ILLEGAL_DATA_VALUE);
      if (address >= mem.coil.length) return exception(fc, EXC_ILLEGAL_DATA_ADDRESS);
      mem.coil[address] = v ? 1 : 0;
      opts.onWrite?.(unitId, 'coil', address, 1);
      return answer(Buffer.from(pdu));
    }
    case 6: {
      if (pdu.length !== 5) return exception(fc, EXC_ILLEGAL_DATA_VALUE);
      if (address >= mem.holding.length) return exception(fc, EXC_ILLEGAL_DATA_ADDRESS);
      mem.holding[address] = pdu.readUInt16BE(3);
      opts.onWrite?.(unitId, 'holding', address, 1);
      return answer(Buffer.from(pdu));
    }
    case 15: {
      const bytes = pdu.length >= 6 ? pdu[5]! : -1;
      if (count < 1 || count > 1968 || bytes !== (count + 7) >> 3 || pdu.length !== 6 + bytes)
        return exception(fc, EXC_ILLEGAL_DATA_VALUE);
      if (address + count > mem.coil.length) return exception(fc, EXC_ILLEGAL_DATA_ADDRESS);
      for (let i = 0; i < count; i++) mem.coil[address + i] = (pdu[6 + (i >> 3)]! >> (i & 7)) & 1;
      opts.onWrite?.(unitId, 'coil', address, count);
      return answer(Buffer.from(pdu.subarray(0, 5)));
    }
    case 16: {
      const bytes = pdu.length >= 6 ? pdu[5]! : -1;
      if (count < 1 || count > 123 || bytes !== 2 * count || pdu.length !== 6 + bytes)
        return exception(fc, EXC_ILLEGAL_DATA_VALUE);
      if (address + count > mem.holding.length) return exception(fc, EXC_ILLEGAL_DATA_ADDRESS);
      for (let i = 0; i < count; i++) mem.holding[address + i] = pdu.readUInt16BE(6 + 2 * i);
      opts.onWrite?.(unitId, 'holding', address, count);
      return answer(Buffer.from(pdu.subarray(0, 5)));
    }
    default:
      return exception(fc, EXC_ILLEGAL_FUNCTION);
  }
}
