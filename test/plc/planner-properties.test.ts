// Property tests of the planner over random tag sets and limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AREAS, tagSchema, type TagConfig } from '../../plc/config/schema.js';
import { encodeRegisters } from '../../plc/codec/codec.js';
import {
  isBitArea,
  planReads,
  planWrites,
  spanOf,
  type ReadLimits,
} from '../../plc/planner/planner.js';

const RUNS = { numRuns: 200 };
const REGISTER_TYPES = [
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'int64',
  'uint64',
  'float64',
  'string',
  'bit',
] as const;

// Addresses cluster in a few windows (as in real maps) and include the top of the address space.
const address = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 150 }), weight: 4 },
  { arbitrary: fc.integer({ min: 65450, max: 65535 }), weight: 1 },
  { arbitrary: fc.integer({ min: 0, max: 65535 }), weight: 1 },
);

const registerTag = fc
  .record({
    area: fc.constantFrom('holding', 'input'),
    address,
    type: fc.constantFrom(...REGISTER_TYPES),
    length: fc.integer({ min: 1, max: 12 }),
    bit: fc.integer({ min: 0, max: 15 }),
  })
  .map(({ area, address, type, length, bit }) => ({
    area,
    type,
    ...(type === 'string' ? { length } : {}),
    ...(type === 'bit' ? { bit } : {}),
    address: Math.min(
      address,
      65536 -
        (type === 'string'
          ? length
          : ((
              { int32: 2, uint32: 2, float32: 2, int64: 4, uint64: 4, float64: 4 } as Record<
                string,
                number
              >
            )[type] ?? 1)),
    ),
  }));
const bitTag = fc.record({
  area: fc.constantFrom('coil', 'discrete'),
  address,
  type: fc.constant('bool'),
});

const tagSet = fc
  .array(fc.oneof(registerTag, bitTag), { minLength: 0, maxLength: 80, size: 'max' })
  .map((raw) => raw.map((t, i) => tagSchema.parse({ name: `t${i}`, ...t })));
/** Unions of transitively overlapping tags, as [start, end) address ranges. */
function overlapChains(tags: TagConfig[]): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (const t of [...tags].sort((a, b) => a.address - b.address)) {
    const last = out[out.length - 1];
    const end = t.address + spanOf(t);
    if (last && t.address < last.end) last.end = Math.max(last.end, end);
    else out.push({ start: t.address, end });
  }
  return out;
}

const limits: fc.Arbitrary<ReadLimits> = fc.record({
  maxGap: fc.integer({ min: 0, max: 20 }),
  maxRegisters: fc.integer({ min: 12, max: 125 }), // ≥ the widest generated tag
  maxBits: fc.integer({ min: 1, max: 2000 }),
});

test(
  'every tag is in exactly one block that holds all of it; limits, bounds and gaps are kept',
  { timeout: 60_000 },
  () => {
    fc.assert(
      fc.property(tagSet, limits, (tags, lim) => {
        const blocks = planReads(tags, lim);
        const seen = new Map<string, number>();
        for (const b of blocks) {
          const bits = isBitArea(b.area);
          assert.ok(
            b.count >= 1 && b.count <= (bits ? lim.maxBits : lim.maxRegisters),
            `cap: ${b.count}`,
          );
          assert.ok(b.start >= 0 && b.start + b.count - 1 <= 65535, 'inside 0..65535');
          const covered = new Array<boolean>(b.count).fill(false);
          for (const t of b.tags) {
            assert.equal(t.area, b.area);
            assert.ok(
              t.address >= b.start && t.address + spanOf(t) <= b.start + b.count,
              `${t.name} inside`,
            );
            seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
            for (let i = 0; i < spanOf(t); i++) covered[t.address - b.start + i] = true;
          }
          // Tight at both ends, and no unread stretch longer than maxGap (×16 for bits).
          assert.ok(covered[0] && covered[b.count - 1], 'block starts and ends on a tag');
          const gap = bits ? lim.maxGap * 16 : lim.maxGap;
          let run = 0;
          for (const c of covered) {
            run = c ? 0 : run + 1;
            assert.ok(run <= gap, `gap ${run} > ${gap}`);
          }
        }
        assert.equal(seen.size, tags.length);
        for (const count of seen.values()) assert.equal(count, 1);
        // Blocks of one area never overlap (except inside a chain of overlapping tags wider than
        // one read), and neighbouring blocks could not have been one read.
        for (const area of AREAS) {
          const bits = isBitArea(area);
          const cap = bits ? lim.maxBits : lim.maxRegisters;
          const wide = overlapChains(tags.filter((t) => t.area === area)).filter(
            (c) => c.end - c.start > cap,
          );
          const inWide = (from: number, to: number) =>
            wide.some((c) => from >= c.start && to <= c.end);
          const sorted = blocks.filter((b) => b.area === area).sort((a, b) => a.start - b.start);
          for (let i = 1; i < sorted.length; i++) {
            const a = sorted[i - 1]!;
            const b = sorted[i]!;
            const aEnd = a.start + a.count;
            if (aEnd > b.start) {
              assert.ok(
                inWide(b.start, aEnd),
                `blocks ${a.start}+${a.count} and ${b.start}+${b.count} overlap`,
              );
              continue;
            }
            if (inWide(a.start, aEnd) || inWide(b.start, b.start + b.count)) continue;
            const mergedTooWide = b.start + b.count - a.start > cap;
            const gapTooWide = b.start - aEnd > (bits ? lim.maxGap * 16 : lim.maxGap);
            assert.ok(mergedTooWide || gapTooWide, 'neighbouring blocks could have been merged');
          }
        }
      }),
      RUNS,
    );
  },
);

// Non-overlapping writable tags with a valid value each.
const writeSet = fc
  .array(
    fc.record({
      kind: fc.constantFrom('int16', 'uint32', 'float64', 'string', 'coil'),
      address: fc.integer({ min: 0, max: 400 }),
      v: fc.integer({ min: 0, max: 60000 }),
    }),
    { maxLength: 60, size: 'max' },
  )
  .map((raw) => {
    const used = new Set<string>();
    const out: { tag: TagConfig; value: unknown }[] = [];
    raw.forEach(({ kind, address, v }, i) => {
      const fields =
        kind === 'coil'
          ? { area: 'coil', type: 'bool' }
          : kind === 'string'
            ? { area: 'holding', type: 'string', length: 3 }
            : { area: 'holding', type: kind };
      const tag = tagSchema.parse({ name: `w${i}`, address, writable: true, ...fields });
      const keys = Array.from({ length: spanOf(tag) }, (_, k) => `${tag.area}:${address + k}`);
      if (keys.some((k) => used.has(k))) return;
      keys.forEach((k) => used.add(k));
      const value =
        kind === 'coil'
          ? v % 2 === 0
          : kind === 'string'
            ? `s${v}`
            : kind === 'float64'
              ? v / 7
              : kind === 'int16'
                ? v - 30000
                : v;
      out.push({ tag, value });
    });
    return out;
  });

test(
  'planWrites writes exactly the commanded registers and coils, with the codec values, within the caps',
  { timeout: 60_000 },
  () => {
    fc.assert(
      fc.property(writeSet, (entries) => {
        const expected = new Map<string, number | boolean>();
        for (const { tag, value } of entries) {
          if (tag.area === 'coil') expected.set(`coil:${tag.address}`, value === true);
          else
            encodeRegisters(tag, value).forEach((w, k) =>
              expected.set(`holding:${tag.address + k}`, w),
            );
        }
        const written = new Map<string, number | boolean>();
        for (const op of planWrites(entries)) {
          assert.notEqual(op.kind, 'bit');
          if (op.kind === 'bit') continue;
          assert.ok(
            op.values.length >= 1 && op.values.length <= (op.kind === 'coils' ? 1968 : 123),
          );
          const area = op.kind === 'coils' ? 'coil' : 'holding';
          op.values.forEach((w, k) => {
            const key = `${area}:${op.start + k}`;
            assert.ok(!written.has(key), `${key} written twice`);
            written.set(key, w);
          });
        }
        assert.deepEqual(written, expected);
      }),
      RUNS,
    );
  },
);
