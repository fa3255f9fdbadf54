// Known byte vectors (computed independently with Python's struct) for every type × byte order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BYTE_ORDERS, tagSchema, type ByteOrder, type TagConfig } from '../../plc/config/schema.js';
import { decodeRegisters, encodeRegisters } from '../../plc/codec/codec.js';

function tag(fields: Record<string, unknown>): TagConfig {
  return tagSchema.parse({ name: 't', area: 'holding', address: 0, ...fields });
}

type Vector = { type: string; value: number | string; regs: Record<ByteOrder, number[]> };

const VECTORS: Vector[] = [
  {
    type: 'int16',
    value: -2,
    regs: { ABCD: [0xfffe], CDAB: [0xfffe], BADC: [0xfeff], DCBA: [0xfeff] },
  },
  {
    type: 'int16',
    value: -32768,
    regs: { ABCD: [0x8000], CDAB: [0x8000], BADC: [0x0080], DCBA: [0x0080] },
  },
  {
    type: 'uint16',
    value: 4660,
    regs: { ABCD: [0x1234], CDAB: [0x1234], BADC: [0x3412], DCBA: [0x3412] },
  },
  {
    type: 'uint16',
    value: 65535,
    regs: { ABCD: [0xffff], CDAB: [0xffff], BADC: [0xffff], DCBA: [0xffff] },
  },
  {
    type: 'int32',
    value: -123456789,
    regs: {
      ABCD: [0xf8a4, 0x32eb],
      CDAB: [0x32eb, 0xf8a4],
      BADC: [0xa4f8, 0xeb32],
      DCBA: [0xeb32, 0xa4f8],
    },
  },
  {
    type: 'int32',
    value: 2147483647,
    regs: {
      ABCD: [0x7fff, 0xffff],
      CDAB: [0xffff, 0x7fff],
      BADC: [0xff7f, 0xffff],
      DCBA: [0xffff, 0xff7f],
    },
  },
  {
    type: 'uint32',
    value: 305419896,
    regs: {
      ABCD: [0x1234, 0x5678],
      CDAB: [0x5678, 0x1234],
      BADC: [0x3412, 0x7856],
      DCBA: [0x7856, 0x3412],
    },
  },
  {
    type: 'float32',
    value: 1.5,
    regs: {
      ABCD: [0x3fc0, 0x0000],
      CDAB: [0x0000, 0x3fc0],
      BADC: [0xc03f, 0x0000],
      DCBA: [0x0000, 0xc03f],
    },
  },
  {
    type: 'float32',
    value: -123.456, // the shortest decimal whose float32 is the register value (Math.fround(-123.456))
    regs: {
      ABCD: [0xc2f6, 0xe979],
      CDAB: [0xe979, 0xc2f6],
      BADC: [0xf6c2, 0x79e9],
      DCBA: [0x79e9, 0xf6c2],
    },
  },
  {
    type: 'float64',
    value: 123.456,
    regs: {
      ABCD: [0x405e, 0xdd2f, 0x1a9f, 0xbe77],
      CDAB: [0xbe77, 0x1a9f, 0xdd2f, 0x405e],
      BADC: [0x5e40, 0x2fdd, 0x9f1a, 0x77be],
      DCBA: [0x77be, 0x9f1a, 0x2fdd, 0x5e40],
    },
  },
  {
    type: 'float64',
    value: -0.1,
    regs: {
      ABCD: [0xbfb9, 0x9999, 0x9999, 0x999a],
      CDAB: [0x999a, 0x9999, 0x9999, 0xbfb9],
      BADC: [0xb9bf, 0x9999, 0x9999, 0x9a99],
      DCBA: [0x9a99, 0x9999, 0x9999, 0xb9bf],
    },
  },
  {
    type: 'int64',
    value: -2,
    regs: {
      ABCD: [0xffff, 0xffff, 0xffff, 0xfffe],
      CDAB: [0xfffe, 0xffff, 0xffff, 0xffff],
      BADC: [0xffff, 0xffff, 0xffff, 0xfeff],
      DCBA: [0xfeff, 0xffff, 0xffff, 0xffff],
    },
  },
  {
    type: 'int64',
    value: 4328719365,
    regs: {
      ABCD: [0x0000, 0x0001, 0x0203, 0x0405],
      CDAB: [0x0405, 0x0203, 0x0001, 0x0000],
      BADC: [0x0000, 0x0100, 0x0302, 0x0504],
      DCBA: [0x0504, 0x0302, 0x0100, 0x0000],
    },
  },
  {
    type: 'int64',
    value: '72623859790382856', // beyond 2^53: an exact decimal string
    regs: {
      ABCD: [0x0102, 0x0304, 0x0506, 0x0708],
      CDAB: [0x0708, 0x0506, 0x0304, 0x0102],
      BADC: [0x0201, 0x0403, 0x0605, 0x0807],
      DCBA: [0x0807, 0x0605, 0x0403, 0x0201],
    },
  },
  {
    type: 'int64',
    value: '-9223372036854775808',
    regs: {
      ABCD: [0x8000, 0x0000, 0x0000, 0x0000],
      CDAB: [0x0000, 0x0000, 0x0000, 0x8000],
      BADC: [0x0080, 0x0000, 0x0000, 0x0000],
      DCBA: [0x0000, 0x0000, 0x0000, 0x0080],
    },
  },
  {
    type: 'uint64',
    value: 4822678189205111,
    regs: {
      ABCD: [0x0011, 0x2233, 0x4455, 0x6677],
      CDAB: [0x6677, 0x4455, 0x2233, 0x0011],
      BADC: [0x1100, 0x3322, 0x5544, 0x7766],
      DCBA: [0x7766, 0x5544, 0x3322, 0x1100],
    },
  },
  {
    type: 'uint64',
    value: '9223372036854775809',
    regs: {
      ABCD: [0x8000, 0x0000, 0x0000, 0x0001],
      CDAB: [0x0001, 0x0000, 0x0000, 0x8000],
      BADC: [0x0080, 0x0000, 0x0000, 0x0100],
      DCBA: [0x0100, 0x0000, 0x0000, 0x0080],
    },
  },
  {
    type: 'uint64',
    value: '18446744073709551615',
    regs: {
      ABCD: [0xffff, 0xffff, 0xffff, 0xffff],
      CDAB: [0xffff, 0xffff, 0xffff, 0xffff],
      BADC: [0xffff, 0xffff, 0xffff, 0xffff],
      DCBA: [0xffff, 0xffff, 0xffff, 0xffff],
    },
  },
];

for (const v of VECTORS)
  for (const order of BYTE_ORDERS)
    test(`${v.type} ${v.value} ${order}: decode, encode and round trip`, () => {
      const t = tag({ type: v.type, byteOrder: order });
      const regs = v.regs[order];
      assert.deepEqual(decodeRegisters(t, regs), v.value);
      assert.deepEqual(encodeRegisters(t, v.value), regs);
      assert.deepEqual(decodeRegisters(t, encodeRegisters(t, v.value)), v.value);
    });

// "AB" + "C" in 2 registers: high byte first for ABCD/CDAB (no word reversal for strings), swapped for BADC/DCBA.
const STRING_REGS: Record<ByteOrder, number[]> = {
  ABCD: [0x4142, 0x4300],
  CDAB: [0x4142, 0x4300],
  BADC: [0x4241, 0x0043],
  DCBA: [0x4241, 0x0043],
};
for (const order of BYTE_ORDERS)
  test(`string "ABC" in 2 registers ${order}: decode, encode and round trip`, () => {
    const t = tag({ type: 'string', length: 2, byteOrder: order });
    assert.equal(decodeRegisters(t, STRING_REGS[order]), 'ABC');
    assert.deepEqual(encodeRegisters(t, 'ABC'), STRING_REGS[order]);
  });

// bit 0 = least significant; BADC/DCBA swap the register's bytes before picking the bit.
const BIT_REG: Record<ByteOrder, number> = {
  ABCD: 0x0002,
  CDAB: 0x0002,
  BADC: 0x0200,
  DCBA: 0x0200,
};
for (const order of BYTE_ORDERS)
  test(`bit 1 ${order}: decode`, () => {
    const on = tag({ type: 'bit', bit: 1, byteOrder: order });
    const off = tag({ type: 'bit', bit: 0, byteOrder: order });
    assert.equal(decodeRegisters(on, [BIT_REG[order]]), true);
    assert.equal(decodeRegisters(off, [BIT_REG[order]]), false);
  });
