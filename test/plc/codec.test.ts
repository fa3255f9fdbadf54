// Codec rules beyond the byte vectors: scale/offset, 64-bit exactness, floats, strings, bits, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tagSchema, type TagConfig } from '../../plc/config/schema.js';
import {
  applyBit,
  decodeBit,
  decodeRegisters,
  encodeBool,
  encodeRegisters,
  isCodecError,
  type CodecErrorKind,
} from '../../plc/codec/codec.js';

function tag(fields: Record<string, unknown>): TagConfig {
  return tagSchema.parse({ name: 'level', area: 'holding', address: 0, ...fields });
}

function throwsKind(fn: () => unknown, kind: CodecErrorKind, text?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isCodecError(e), `expected a CodecError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    assert.equal(e.tag, 'level');
    assert.match(e.message, /^tag "level": /);
    if (text) assert.match(e.message, text);
    return true;
  });
}

test('integer scale gives raw*scale+offset without binary artefacts', () => {
  assert.equal(decodeRegisters(tag({ type: 'int16', scale: 0.1 }), [123]), 12.3);
  assert.equal(decodeRegisters(tag({ type: 'uint16', scale: 0.01, offset: -40 }), [6543]), 25.43);
  assert.equal(decodeRegisters(tag({ type: 'int16', scale: 0.1 }), [0xffff]), -0.1);
  assert.equal(decodeRegisters(tag({ type: 'int32', scale: 0.001 }), [0, 1]), 0.001);
  assert.deepEqual(encodeRegisters(tag({ type: 'int16', scale: 0.1 }), 12.3), [123]);
  assert.deepEqual(
    encodeRegisters(tag({ type: 'uint16', scale: 0.01, offset: -40 }), 25.43),
    [6543],
  );
});

test('identity scale keeps integers as integers', () => {
  const v = decodeRegisters(tag({ type: 'uint32' }), [0xffff, 0xffff]);
  assert.equal(v, 4294967295);
  assert.ok(Number.isInteger(v));
});

test('integer encoding rounds half away from zero to the nearest raw step', () => {
  assert.deepEqual(encodeRegisters(tag({ type: 'int16' }), 2.5), [3]);
  assert.deepEqual(encodeRegisters(tag({ type: 'int16' }), -2.5), [0xfffd]);
  assert.deepEqual(encodeRegisters(tag({ type: 'int16', scale: 0.1 }), 1.04), [10]);
});

test('64-bit: scale makes a float; strings and numbers are both accepted for writing', () => {
  const scaled = tag({ type: 'uint64', scale: 0.5 });
  assert.equal(decodeRegisters(scaled, [0, 0, 0, 3]), 1.5);
  assert.deepEqual(encodeRegisters(scaled, 1.5), [0, 0, 0, 3]);
  assert.deepEqual(encodeRegisters(scaled, '1.5'), [0, 0, 0, 3]);
  const big = tag({ type: 'int64' });
  assert.deepEqual(encodeRegisters(big, 42), [0, 0, 0, 42]);
  assert.deepEqual(encodeRegisters(big, ' -42 '), [0xffff, 0xffff, 0xffff, 0xffd6]);
  assert.equal(decodeRegisters(big, [0x001f, 0xffff, 0xffff, 0xffff]), 9007199254740991);
  assert.equal(decodeRegisters(big, [0x0020, 0, 0, 0]), '9007199254740992');
  assert.equal(decodeRegisters(big, [0xffe0, 0, 0, 0]), '-9007199254740992');
});

test('64-bit range and input errors', () => {
  throwsKind(() => encodeRegisters(tag({ type: 'int64' }), '9223372036854775808'), 'range');
  throwsKind(() => encodeRegisters(tag({ type: 'uint64' }), '-1'), 'range');
  throwsKind(() => encodeRegisters(tag({ type: 'uint64' }), 2 ** 64), 'range');
  throwsKind(() => encodeRegisters(tag({ type: 'int64' }), '12abc'), 'type', /decimal string/);
  throwsKind(() => encodeRegisters(tag({ type: 'int64' }), '1e5'), 'type');
  throwsKind(() => encodeRegisters(tag({ type: 'int64' }), true), 'type');
  throwsKind(() => encodeRegisters(tag({ type: 'int64' }), Infinity), 'non-finite');
});

test('floats: NaN and ±Infinity are decoded and encoded faithfully; scale applies', () => {
  const f = tag({ type: 'float32' });
  assert.ok(Number.isNaN(decodeRegisters(f, [0x7fc0, 0])));
  assert.equal(decodeRegisters(f, [0x7f80, 0]), Infinity);
  assert.equal(decodeRegisters(f, [0xff80, 0]), -Infinity);
  assert.deepEqual(encodeRegisters(f, Infinity), [0x7f80, 0]);
  assert.deepEqual(encodeRegisters(f, -Infinity), [0xff80, 0]);
  assert.ok(Number.isNaN(decodeRegisters(f, encodeRegisters(f, NaN))));
  assert.ok(Object.is(decodeRegisters(f, [0x8000, 0]), -0));
  const d = tag({ type: 'float64', scale: 2, offset: 1 });
  assert.equal(decodeRegisters(d, [0x3ff8, 0, 0, 0]), 4); // 1.5*2+1
  assert.deepEqual(encodeRegisters(d, 4), [0x3ff8, 0, 0, 0]);
});

test('float32 out of range and wrong types are refused', () => {
  throwsKind(() => encodeRegisters(tag({ type: 'float32' }), 1e39), 'range');
  throwsKind(() => encodeRegisters(tag({ type: 'float32', scale: 1e-30 }), 1e10), 'range');
  throwsKind(() => encodeRegisters(tag({ type: 'float32' }), '1.5'), 'type');
  throwsKind(() => encodeRegisters(tag({ type: 'float64' }), null), 'type', /null/);
});

test('16/32-bit integers: range, non-finite and type errors name the tag and the problem', () => {
  throwsKind(() => encodeRegisters(tag({ type: 'int16' }), 32768), 'range', /int16/);
  throwsKind(() => encodeRegisters(tag({ type: 'int16' }), -32769), 'range');
  throwsKind(() => encodeRegisters(tag({ type: 'uint16' }), -1), 'range');
  throwsKind(() => encodeRegisters(tag({ type: 'uint32' }), 4294967296), 'range');
  throwsKind(() => encodeRegisters(tag({ type: 'int32' }), 2147483648), 'range');
  throwsKind(
    () => encodeRegisters(tag({ type: 'int16', scale: 0.1 }), 3276.8),
    'range',
    /raw 32768/,
  );
  throwsKind(() => encodeRegisters(tag({ type: 'int16' }), NaN), 'non-finite');
  throwsKind(() => encodeRegisters(tag({ type: 'uint32' }), -Infinity), 'non-finite');
  throwsKind(() => encodeRegisters(tag({ type: 'int16' }), '5'), 'type', /string "5"/);
  throwsKind(() => encodeRegisters(tag({ type: 'int16' }), { v: 1 }), 'type');
  throwsKind(() => encodeRegisters(tag({ type: 'int16', scale: 0 }), 5), 'scale');
  assert.deepEqual(encodeRegisters(tag({ type: 'int16' }), -0), [0]);
});

test('strings: stop at the first NUL, trim trailing spaces, pad with NUL', () => {
  const s = tag({ type: 'string', length: 4 });
  assert.equal(decodeRegisters(s, [0x4142, 0x0043, 0x4445, 0x4647]), 'AB');
  assert.equal(decodeRegisters(s, [0x4142, 0x2020, 0x2020, 0x2020]), 'AB');
  assert.equal(decodeRegisters(s, [0x2041, 0x2042, 0x0000, 0x0000]), ' A B');
  assert.equal(decodeRegisters(s, [0, 0x4142, 0, 0]), '');
  assert.equal(decodeRegisters(s, [0x4142, 0x4344, 0x4546, 0x4748]), 'ABCDEFGH');
  assert.deepEqual(encodeRegisters(s, 'Hi'), [0x4869, 0, 0, 0]);
  assert.deepEqual(encodeRegisters(s, ''), [0, 0, 0, 0]);
  assert.equal(decodeRegisters(s, encodeRegisters(s, 'Größe')), 'Größe');
  assert.deepEqual(encodeRegisters(s, 'é'), [0xe900, 0, 0, 0]);
});

test('strings: too long, unprintable and non-string values are refused', () => {
  const s = tag({ type: 'string', length: 2 });
  throwsKind(() => encodeRegisters(s, 'ABCDE'), 'length', /5 characters.*at most 4/);
  throwsKind(() => encodeRegisters(s, 'A\nB'), 'charset', /U\+000A at position 1/);
  throwsKind(() => encodeRegisters(s, 'A\u0000'), 'charset');
  throwsKind(() => encodeRegisters(s, '€'), 'charset', /U\+20AC/);
  throwsKind(() => encodeRegisters(s, 12), 'type');
  assert.deepEqual(encodeRegisters(s, 'ABCD'), [0x4142, 0x4344]);
});

test('malformed registers from the PLC are a CodecError, never a crash or a wrong value', () => {
  throwsKind(
    () => decodeRegisters(tag({ type: 'int32' }), [1]),
    'malformed',
    /expected 2 register/,
  );
  throwsKind(() => decodeRegisters(tag({ type: 'int16' }), [1, 2]), 'malformed');
  throwsKind(() => decodeRegisters(tag({ type: 'int16' }), [65536]), 'malformed');
  throwsKind(() => decodeRegisters(tag({ type: 'float32' }), [1, -1]), 'malformed');
  throwsKind(() => decodeRegisters(tag({ type: 'float64' }), [1, 2, 3.5, 4]), 'malformed');
  throwsKind(() => decodeRegisters(tag({ type: 'string', length: 2 }), [0x4142, NaN]), 'malformed');
  throwsKind(
    () => decodeRegisters(tag({ type: 'bit', bit: 3 }), ['x' as unknown as number]),
    'malformed',
  );
  throwsKind(() => decodeBit(tag({ type: 'bit', bit: 3 }), 70000), 'malformed');
});

test('bit tags: decodeBit reads one bit, applyBit changes only that bit', () => {
  const b15 = tag({ type: 'bit', bit: 15 });
  assert.equal(decodeBit(b15, 0x8000), true);
  assert.equal(decodeBit(b15, 0x7fff), false);
  assert.equal(applyBit(b15, 0x1234, true), 0x9234);
  assert.equal(applyBit(b15, 0xffff, false), 0x7fff);
  assert.equal(applyBit(b15, 0xffff, 0), 0x7fff);
  assert.equal(applyBit(tag({ type: 'bit', bit: 0 }), 0xfffe, 1), 0xffff);
  const swapped = tag({ type: 'bit', bit: 0, byteOrder: 'BADC' });
  assert.equal(applyBit(swapped, 0x0000, true), 0x0100);
  assert.equal(decodeBit(swapped, 0x0100), true);
  throwsKind(() => applyBit(b15, 0, 'on'), 'type');
  throwsKind(() => encodeRegisters(b15, true), 'type', /read-modify-write/);
});

test('encodeBool accepts true/false and 0/1 only', () => {
  const c = tagSchema.parse({ name: 'level', area: 'coil', address: 3, type: 'bool' });
  assert.equal(encodeBool(c, true), true);
  assert.equal(encodeBool(c, 0), false);
  assert.equal(encodeBool(c, 1), true);
  for (const bad of [2, 'true', null, undefined, -1, 0.5])
    throwsKind(() => encodeBool(c, bad), 'type');
});
