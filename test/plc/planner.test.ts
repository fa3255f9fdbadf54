// Request planner: read merging, block decoding and write planning, by example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tagSchema, type TagConfig } from '../../plc/config/schema.js';
import {
  decodeBlock,
  isPlanError,
  planReads,
  planWrites,
  type ReadLimits,
} from '../../plc/planner/planner.js';
import { isCodecError, type CodecErrorKind } from '../../plc/codec/codec.js';

const LIMITS: ReadLimits = { maxGap: 8, maxRegisters: 125, maxBits: 2000 };
let n = 0;
function tag(fields: Record<string, unknown>): TagConfig {
  return tagSchema.parse({ name: `t${n++}`, area: 'holding', type: 'int16', ...fields });
}
const spans = (blocks: { area: string; start: number; count: number }[]) =>
  blocks.map((b) => `${b.area}:${b.start}+${b.count}`);

test('neighbours and gaps up to maxGap merge into one read; a wider gap splits', () => {
  const tags = [
    tag({ address: 0 }),
    tag({ address: 1, type: 'float32' }),
    tag({ address: 11 }), // gap 3..10 = 8 registers: bridged
    tag({ address: 21 }), // gap 12..20 = 9 registers: new read
  ];
  assert.deepEqual(spans(planReads(tags, LIMITS)), ['holding:0+12', 'holding:21+1']);
  assert.deepEqual(spans(planReads(tags, { ...LIMITS, maxGap: 0 })), [
    'holding:0+3',
    'holding:11+1',
    'holding:21+1',
  ]);
});

test('input order does not matter; every area is planned on its own', () => {
  const tags = [
    tag({ address: 5, area: 'input' }),
    tag({ address: 0 }),
    tag({ address: 0, area: 'input' }),
    tag({ address: 1 }),
  ];
  const blocks = planReads(tags, LIMITS);
  assert.deepEqual(spans(blocks), ['holding:0+2', 'input:0+6']);
  assert.deepEqual(
    blocks[1]!.tags.map((t) => t.address),
    [0, 5],
  );
});

test('a read never exceeds maxRegisters and never splits a tag', () => {
  const tags = Array.from({ length: 130 }, (_, i) => tag({ address: i }));
  assert.deepEqual(spans(planReads(tags, LIMITS)), ['holding:0+125', 'holding:125+5']);
  const straddling = [
    tag({ address: 0, type: 'string', length: 100 }),
    tag({ address: 100, type: 'float64' }),
    tag({ address: 124, type: 'float32' }),
  ];
  assert.deepEqual(spans(planReads(straddling, LIMITS)), ['holding:0+104', 'holding:124+2']);
  assert.deepEqual(spans(planReads(straddling, { ...LIMITS, maxGap: 30, maxRegisters: 100 })), [
    'holding:0+100',
    'holding:100+26',
  ]);
});

test('coils and discrete inputs: bits, gaps of maxGap*16 bits, cap maxBits', () => {
  const coil = (address: number, area = 'coil') => tag({ area, type: 'bool', address });
  assert.deepEqual(spans(planReads([coil(0), coil(129)], LIMITS)), ['coil:0+130']);
  assert.deepEqual(spans(planReads([coil(0), coil(130)], LIMITS)), ['coil:0+1', 'coil:130+1']);
  const many = Array.from({ length: 2001 }, (_, i) => coil(i, 'discrete'));
  assert.deepEqual(spans(planReads(many, LIMITS)), ['discrete:0+2000', 'discrete:2000+1']);
  assert.deepEqual(spans(planReads(many.slice(0, 10), { ...LIMITS, maxBits: 4 })), [
    'discrete:0+4',
    'discrete:4+4',
    'discrete:8+2',
  ]);
});

test('overlapping tags (bits of one register, a word inside a string) share a read', () => {
  const tags = [
    tag({ address: 7, type: 'bit', bit: 0 }),
    tag({ address: 7, type: 'bit', bit: 15 }),
    tag({ address: 7, type: 'uint16' }),
    tag({ address: 20, type: 'string', length: 4 }),
    tag({ address: 21, type: 'uint16' }),
  ];
  assert.deepEqual(spans(planReads(tags, { ...LIMITS, maxGap: 0 })), [
    'holding:7+1',
    'holding:20+4',
  ]);
});

test('a chain of overlapping tags wider than one read is split tag by tag, each read within the cap', () => {
  const chain = [
    tag({ address: 0, type: 'string', length: 8 }),
    tag({ address: 6, type: 'float64' }),
    tag({ address: 9, type: 'int32' }),
    tag({ address: 12 }),
  ];
  const blocks = planReads(chain, { ...LIMITS, maxRegisters: 10 });
  assert.deepEqual(spans(blocks), ['holding:0+10', 'holding:9+4']);
  assert.deepEqual(
    blocks.map((b) => b.tags.length),
    [2, 2],
  );
});

test('a tag wider than one read, or impossible limits, is a PlanError naming the tag', () => {
  const wide = tag({ name: 'label', address: 0, type: 'string', length: 20 });
  assert.throws(
    () => planReads([wide], { ...LIMITS, maxRegisters: 10 }),
    (e) => isPlanError(e) && /tag "label": 20 registers/.test(e.message),
  );
  assert.throws(() => planReads([], { ...LIMITS, maxRegisters: 126 }), isPlanError);
  assert.throws(() => planReads([], { ...LIMITS, maxBits: 0 }), isPlanError);
  assert.throws(() => planReads([], { ...LIMITS, maxGap: -1 }), isPlanError);
  assert.deepEqual(planReads([], LIMITS), []);
});

test('decodeBlock decodes every tag at its offset in the answer', () => {
  const tags = [
    tag({ name: 'a', address: 10 }),
    tag({ name: 'b', address: 12, type: 'float32', byteOrder: 'CDAB' }),
    tag({ name: 'c', address: 12, type: 'bit', bit: 0 }),
    tag({ name: 'd', address: 15, type: 'string', length: 1 }),
  ];
  const [block] = planReads(tags, LIMITS);
  assert.deepEqual(spans([block!]), ['holding:10+6']);
  const r = decodeBlock(block!, [0xfffe, 9, 0x0000, 0x3fc0, 0, 0x4f4b]);
  assert.deepEqual(r, { values: { a: -2, b: 1.5, c: false, d: 'OK' }, errors: {} });
});

test('a short or malformed register answer fails only the tags it cannot serve', () => {
  const tags = [
    tag({ name: 'a', address: 0 }),
    tag({ name: 'b', address: 1, type: 'int32' }),
    tag({ name: 'c', address: 3 }),
  ];
  const [block] = planReads(tags, LIMITS);
  const short = decodeBlock(block!, [1, 2]);
  assert.deepEqual(short.values, { a: 1 });
  assert.match(short.errors.b!, /short answer: 2 of 4 registers/);
  assert.match(short.errors.c!, /short answer/);
  const bad = decodeBlock(block!, [1, 70000, 0, -1]);
  assert.deepEqual(bad.values, { a: 1 });
  assert.match(bad.errors.b!, /malformed answer: .*not a 16-bit value/);
  assert.match(bad.errors.c!, /malformed answer/);
  for (const hostile of [[], null, undefined, 'abc', { length: -3 }] as unknown[]) {
    const r = decodeBlock(block!, hostile as number[]);
    assert.deepEqual(Object.keys(r.errors).sort(), ['a', 'b', 'c']);
  }
});

test('decodeBlock on bits: padded answers are fine, short or non-boolean are errors', () => {
  const tags = [0, 3, 9].map((address) =>
    tag({ name: `x${address}`, area: 'coil', type: 'bool', address }),
  );
  const [block] = planReads(tags, LIMITS);
  const padded = [
    true,
    false,
    false,
    true,
    false,
    false,
    false,
    false,
    false,
    true,
    false,
    false,
    false,
    false,
    false,
    false,
  ];
  assert.deepEqual(decodeBlock(block!, padded), {
    values: { x0: true, x3: true, x9: true },
    errors: {},
  });
  const short = decodeBlock(block!, [false, false, false, false]);
  assert.deepEqual(short.values, { x0: false, x3: false });
  assert.match(short.errors.x9!, /short answer: 4 of 10 bits/);
  const odd = decodeBlock(block!, [1, 'x', 0, 0] as unknown as boolean[]);
  assert.deepEqual(odd.values, { x0: true, x3: false });
  assert.match(odd.errors.x9!, /short/);
});

function writable(fields: Record<string, unknown>): TagConfig {
  return tag({ writable: true, ...fields });
}

test('planWrites merges contiguous registers into one FC16 and never fills a gap', () => {
  const a = writable({ address: 10 });
  const b = writable({ address: 11, type: 'float32' });
  const c = writable({ address: 14, type: 'uint16' }); // 13 is not commanded
  const ops = planWrites([
    { tag: c, value: 7 },
    { tag: b, value: 1.5 },
    { tag: a, value: -1 },
  ]);
  assert.deepEqual(ops, [
    { kind: 'registers', start: 10, values: [0xffff, 0x3fc0, 0] },
    { kind: 'registers', start: 14, values: [7] },
  ]);
});

test('planWrites splits FC16 at 123 registers and FC15 at 1968 coils', () => {
  const regs = Array.from({ length: 124 }, (_, i) => ({ tag: writable({ address: i }), value: i }));
  const ops = planWrites(regs);
  assert.deepEqual(
    ops.map((o) => (o.kind === 'registers' ? [o.start, o.values.length] : o.kind)),
    [
      [0, 123],
      [123, 1],
    ],
  );
  const coils = Array.from({ length: 1969 }, (_, i) => ({
    tag: writable({ area: 'coil', type: 'bool', address: i }),
    value: i % 2,
  }));
  const cops = planWrites(coils);
  assert.deepEqual(
    cops.map((o) => (o.kind === 'coils' ? [o.start, o.values.length, o.values[1]] : o.kind)),
    [
      [0, 1968, true],
      [1968, 1, undefined],
    ],
  );
});

test('planWrites orders registers, then holding bits, then coils', () => {
  const ops = planWrites([
    { tag: writable({ area: 'coil', type: 'bool', address: 4 }), value: true },
    { tag: writable({ address: 3, type: 'bit', bit: 2, name: 'start' }), value: 1 },
    { tag: writable({ address: 3, type: 'bit', bit: 1, name: 'mode' }), value: false },
    { tag: writable({ address: 20 }), value: 5 },
  ]);
  assert.deepEqual(ops, [
    { kind: 'registers', start: 20, values: [5] },
    { kind: 'bit', address: 3, bit: 1, value: false, tag: 'mode' },
    { kind: 'bit', address: 3, bit: 2, value: true, tag: 'start' },
    { kind: 'coils', start: 4, values: [true] },
  ]);
});

function throwsKind(fn: () => unknown, kind: CodecErrorKind, name: string): void {
  assert.throws(fn, (e: unknown) => isCodecError(e) && e.kind === kind && e.tag === name);
}

test('planWrites refuses read-only tags, min/max violations, overlaps and bad values', () => {
  const ro = tag({ name: 'ro', address: 0 });
  throwsKind(() => planWrites([{ tag: ro, value: 1 }]), 'not-writable', 'ro');
  const inp = tagSchema.parse({ name: 'inp', area: 'input', address: 0, type: 'int16' });
  throwsKind(
    () => planWrites([{ tag: { ...inp, writable: true }, value: 1 }]),
    'not-writable',
    'inp',
  );
  const sp = writable({ name: 'sp', address: 0, min: 0, max: 1500 });
  throwsKind(() => planWrites([{ tag: sp, value: 1501 }]), 'limit', 'sp');
  throwsKind(() => planWrites([{ tag: sp, value: -1 }]), 'limit', 'sp');
  assert.equal(planWrites([{ tag: sp, value: 1500 }]).length, 1);
  throwsKind(() => planWrites([{ tag: sp, value: 'x' }]), 'type', 'sp');
  const big = writable({ name: 'big', address: 0, type: 'int32' });
  const inside = writable({ name: 'inside', address: 1 });
  throwsKind(
    () =>
      planWrites([
        { tag: big, value: 1 },
        { tag: inside, value: 2 },
      ]),
    'overlap',
    'inside',
  );
  const b1 = writable({ name: 'b1', address: 5, type: 'bit', bit: 1 });
  throwsKind(
    () =>
      planWrites([
        { tag: b1, value: 1 },
        { tag: { ...b1, name: 'b1bis' }, value: 0 },
      ]),
    'overlap',
    'b1bis',
  );
});
