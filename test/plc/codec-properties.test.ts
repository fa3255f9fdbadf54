// Property tests: encode∘decode and decode∘encode are identities over every type and byte order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BYTE_ORDERS, tagSchema, type TagConfig } from '../../plc/config/schema.js';
import { decodeRegisters, encodeRegisters } from '../../plc/codec/codec.js';

const RUNS = { numRuns: 300 };
const order = fc.constantFrom(...BYTE_ORDERS);
const words = (n: number) =>
  fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: n, maxLength: n });

function tag(fields: Record<string, unknown>): TagConfig {
  return tagSchema.parse({ name: 'p', area: 'holding', address: 0, ...fields });
}

const INTEGER_TYPES = [
  ['int16', 1],
  ['uint16', 1],
  ['int32', 2],
  ['uint32', 2],
  ['int64', 4],
  ['uint64', 4],
] as const;

test('integer registers → value → the same registers (identity scale)', { timeout: 30_000 }, () => {
  for (const [type, width] of INTEGER_TYPES)
    fc.assert(
      fc.property(order, words(width), (byteOrder, regs) => {
        const t = tag({ type, byteOrder });
        assert.deepEqual(encodeRegisters(t, decodeRegisters(t, regs)), regs);
      }),
      RUNS,
    );
});

test('16/32-bit registers → scaled value → the same registers', { timeout: 30_000 }, () => {
  const scale = fc.constantFrom(0.1, 0.01, 0.001, 0.5, 2, 10, 0.25);
  const offset = fc.constantFrom(0, -40, 273.15, 1000.5);
  for (const [type, width] of INTEGER_TYPES.slice(0, 4))
    fc.assert(
      fc.property(order, scale, offset, words(width), (byteOrder, s, o, regs) => {
        const t = tag({ type, byteOrder, scale: s, offset: o });
        assert.deepEqual(encodeRegisters(t, decodeRegisters(t, regs)), regs);
      }),
      RUNS,
    );
});

test('float registers (not NaN) → value → the same registers', { timeout: 30_000 }, () => {
  for (const [type, width] of [
    ['float32', 2],
    ['float64', 4],
  ] as const)
    fc.assert(
      fc.property(order, words(width), (byteOrder, regs) => {
        const t = tag({ type, byteOrder });
        const v = decodeRegisters(t, regs);
        fc.pre(!Number.isNaN(v));
        assert.deepEqual(encodeRegisters(t, v), regs);
      }),
      RUNS,
    );
});

test('integer values → registers → the same value', { timeout: 30_000 }, () => {
  const ranges = {
    int16: [-32768, 32767],
    uint16: [0, 65535],
    int32: [-(2 ** 31), 2 ** 31 - 1],
    uint32: [0, 2 ** 32 - 1],
  } as const;
  for (const [type, [min, max]] of Object.entries(ranges))
    fc.assert(
      fc.property(order, fc.integer({ min, max }), (byteOrder, v) => {
        const t = tag({ type, byteOrder });
        assert.equal(decodeRegisters(t, encodeRegisters(t, v)), v);
      }),
      RUNS,
    );
});

test(
  '64-bit values (as decimal strings) → registers → the exact same value',
  { timeout: 30_000 },
  () => {
    const ranges = {
      int64: [-(2n ** 63n), 2n ** 63n - 1n],
      uint64: [0n, 2n ** 64n - 1n],
    } as const;
    for (const [type, [min, max]] of Object.entries(ranges))
      fc.assert(
        fc.property(order, fc.bigInt({ min, max }), (byteOrder, v) => {
          const t = tag({ type, byteOrder });
          const back = decodeRegisters(t, encodeRegisters(t, v.toString()));
          assert.equal(BigInt(back as number | string), v);
          // Safe integers come back as numbers, the rest as strings.
          assert.equal(typeof back, Number.isSafeInteger(Number(v)) ? 'number' : 'string');
        }),
        RUNS,
      );
  },
);

test(
  'float values → registers → the same value (float32: the shortest decimal of the same float32)',
  { timeout: 30_000 },
  () => {
    fc.assert(
      fc.property(order, fc.double(), (byteOrder, v) => {
        const t = tag({ type: 'float64', byteOrder });
        assert.ok(Object.is(decodeRegisters(t, encodeRegisters(t, v)), v));
      }),
      RUNS,
    );
    fc.assert(
      fc.property(order, fc.float(), (byteOrder, v) => {
        const t = tag({ type: 'float32', byteOrder });
        const regs = encodeRegisters(t, v);
        const back = decodeRegisters(t, regs) as number;
        // Published as the shortest decimal, which is the same float32 and encodes to the same registers.
        assert.ok(Object.is(Math.fround(back), v));
        assert.deepEqual(encodeRegisters(t, back), regs);
        const digits = back.toExponential().replace(/^-/, '').replace(/e.*$/, '').replace('.', '');
        assert.ok(digits.length <= 9, `${back} has at most 9 significant digits`);
      }),
      RUNS,
    );
  },
);

test(
  'printable latin1 strings without trailing spaces → registers → the same string',
  { timeout: 30_000 },
  () => {
    const printable = [
      ...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)),
      ...Array.from({ length: 0x100 - 0xa0 }, (_, i) => String.fromCharCode(0xa0 + i)),
    ];
    fc.assert(
      fc.property(
        order,
        fc
          .integer({ min: 1, max: 20 })
          .chain((length) =>
            fc.tuple(
              fc.constant(length),
              fc.string({ unit: fc.constantFrom(...printable), maxLength: length * 2 }),
            ),
          ),
        (byteOrder, [length, s]) => {
          const t = tag({ type: 'string', length, byteOrder });
          assert.equal(decodeRegisters(t, encodeRegisters(t, s)), s.replace(/ +$/, ''));
        },
      ),
      RUNS,
    );
  },
);
