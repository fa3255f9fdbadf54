// Register images computed here with Node's Buffer, independently of plc/codec, so an end-to-end test
// cannot pass on a codec bug that the simulator and the agent would share.
export type Order = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';

function words(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += 2) out.push((bytes[i]! << 8) | bytes[i + 1]!);
  return out;
}

/** Big-endian bytes → registers in the given byte order (word order reversed for CDAB/DCBA, bytes swapped for BADC/DCBA). */
export function ordered(bigEndian: Buffer, order: Order): number[] {
  let w = words(bigEndian);
  if (order === 'CDAB' || order === 'DCBA') w = w.reverse();
  if (order === 'BADC' || order === 'DCBA') w = w.map((x) => ((x & 0xff) << 8) | (x >> 8));
  return w;
}

export function be(type: string, value: number | bigint): Buffer {
  const b = Buffer.alloc(type.endsWith('64') ? 8 : type.endsWith('32') ? 4 : 2);
  switch (type) {
    case 'int16':
      b.writeInt16BE(Number(value));
      break;
    case 'uint16':
      b.writeUInt16BE(Number(value));
      break;
    case 'int32':
      b.writeInt32BE(Number(value));
      break;
    case 'uint32':
      b.writeUInt32BE(Number(value));
      break;
    case 'float32':
      b.writeFloatBE(Number(value));
      break;
    case 'int64':
      b.writeBigInt64BE(BigInt(value));
      break;
    case 'uint64':
      b.writeBigUInt64BE(BigInt(value));
      break;
    case 'float64':
      b.writeDoubleBE(Number(value));
      break;
    default:
      throw new Error(type);
  }
  return b;
}
