// shortestFloat32 (the codec's float32 hot path) computes without strings exactly what its string
// definition gives: the first p in 1..9 whose decimal Number(x.toPrecision(p)) is the same float32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shortestFloat32, shortestFloat32Reference } from '../../plc/codec/scale.js';

const view = new DataView(new ArrayBuffer(4));
function f32(bits: number): number {
  view.setUint32(0, bits >>> 0);
  return view.getFloat32(0);
}
function bitsOf(x: number): number {
  view.setFloat32(0, x);
  return view.getUint32(0);
}

function same(x: number): void {
  const got = shortestFloat32(x);
  const want = shortestFloat32Reference(x);
  assert.ok(Object.is(got, want), `x=${x}: got ${got}, want ${want}`);
}

test('equals the string definition on any float32 bit pattern', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (b) => same(f32(b))),
    { numRuns: 50_000 },
  );
});

test('equals the string definition near every power of ten and of two (ties, exponent edges)', () => {
  for (let e = -45; e <= 38; e++) {
    const b = bitsOf(Math.fround(Number(`1e${e}`)));
    for (let d = -200; d <= 200; d++) for (const sign of [0, 0x80000000]) same(f32((b + d) ^ sign));
  }
  for (let e = -149; e <= 127; e++) {
    const b = bitsOf(2 ** e);
    for (let d = -40; d <= 40; d++) same(f32(b + d));
  }
  // Decimal values a PLC holds (x.y, x.yy, x.yyy) arrive as written.
  for (let i = -100_000; i <= 100_000; i += 7) {
    same(Math.fround(i / 1000));
    assert.equal(shortestFloat32(Math.fround(i / 100)), i / 100);
  }
  for (const x of [0, -0, NaN, Infinity, -Infinity, 3.4028234663852886e38, 1.401298464324817e-45])
    same(x);
});
