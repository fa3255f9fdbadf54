// Property: the change filter with its per-tag state in arrays gives exactly the reports the former
// Map-based filter gave (with the gateway's NaN/Infinity → bad step), key order included, and its
// last-read state is exactly the former live view — for numbers with deadbands, int64 values beyond
// 2^53 (exact decimal strings), strings, booleans, the values' JSON text rendered in the same pass, failed reads, reads in any key order, names the
// config does not have, resets and periodic full reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tagSchema, type TagConfig } from '../../plc/config/schema.js';
import { ChangeFilter } from '../../plc/report/change-filter.js';
import type { TagValue } from '../../plc/codec/codec.js';
import { ReferenceFilter } from './change-filter-reference.js';

type Kind = 'float' | 'int64' | 'string' | 'bool';
// '7' and '12' are integer-like keys: a record lists them first, whatever order they were set in.
const NAMES = ['a', 'b', '7', 'c.d', '12', 'e_f'];

function tagOf(name: string, kind: Kind, deadband: number): TagConfig {
  const base = { name, address: 0, deadband };
  if (kind === 'bool') return tagSchema.parse({ ...base, area: 'coil', type: 'bool', deadband: 0 });
  if (kind === 'string')
    return tagSchema.parse({ ...base, area: 'holding', type: 'string', length: 4, deadband: 0 });
  return tagSchema.parse({
    ...base,
    area: 'holding',
    type: kind === 'float' ? 'float64' : 'int64',
  });
}

function valueOf(kind: Kind): fc.Arbitrary<TagValue> {
  switch (kind) {
    case 'float':
      return fc.oneof(
        { arbitrary: fc.integer({ min: -6, max: 6 }).map((i) => i * 0.25), weight: 8 },
        { arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e300), weight: 2 },
      );
    case 'int64':
      return fc.oneof(
        fc.constantFrom(9_007_199_254_740_991, -9_007_199_254_740_991, 0, 5),
        fc.constantFrom('9223372036854775807', '9223372036854775806', '18446744073709551615'),
      );
    case 'string':
      return fc.constantFrom('', 'PLC', 'PLC-01', 'x', 'a "quoted" \\ line\n', '€ \u0001');
    case 'bool':
      return fc.boolean();
  }
}

const groupArb = fc
  .uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: NAMES.length })
  .chain((names) =>
    fc.tuple(
      fc.constant(names),
      fc.array(fc.constantFrom<Kind>('float', 'float', 'int64', 'string', 'bool'), {
        minLength: names.length,
        maxLength: names.length,
      }),
      fc.constantFrom(0, 0.25, 1),
    ),
  );

/** One step: a read (each tag a value, a failure, both, or absent; in some key order), or a reset. */
function stepArb(names: string[], kinds: Kind[]) {
  const cell = (k: Kind) =>
    fc.oneof(
      { arbitrary: valueOf(k).map((v) => ({ v })), weight: 12 },
      { arbitrary: fc.constant({ e: 'timeout' }), weight: 2 },
      { arbitrary: valueOf(k).map((v) => ({ v, e: 'short answer' })), weight: 1 },
      { arbitrary: fc.constant({}), weight: 1 },
    );
  const read = fc.record({
    cells: fc.tuple(...kinds.map(cell)),
    order: fc.shuffledSubarray(
      names.map((_, i) => i),
      { minLength: names.length, maxLength: names.length },
    ),
    stranger: fc.option(fc.constantFrom<TagValue>(1, 'z', NaN), { freq: 10 }),
    strangerName: fc.constantFrom('not-configured', 'not "configured"', '3'),
    dtMs: fc.constantFrom(10, 100, 400),
  });
  return fc.oneof({ arbitrary: read, weight: 20 }, { arbitrary: fc.constant('reset'), weight: 1 });
}

test(
  'array-based filter: the same reports and the same live view as the Map-based reference',
  { timeout: 120_000 },
  () => {
    fc.assert(
      fc.property(
        groupArb.chain(([names, kinds, deadband]) =>
          fc.tuple(
            fc.constant(names),
            fc.constant(kinds),
            fc.constant(deadband),
            fc.constantFrom(0, 300),
            fc.array(stepArb(names, kinds), { minLength: 1, maxLength: 60 }),
          ),
        ),
        ([names, kinds, deadband, fullReportMs, steps]) => {
          const tags = names.map((n, i) => tagOf(n, kinds[i]!, deadband));
          const filter = new ChangeFilter(tags, { fullReportMs, nonFiniteAsBad: true });
          const ref = new ReferenceFilter(tags, fullReportMs);
          let now = 0;
          steps.forEach((step, k) => {
            if (step === 'reset') {
              filter.reset();
              ref.reset();
              return;
            }
            now += step.dtMs;
            const values: Record<string, TagValue> = {};
            const errors: Record<string, string> = {};
            for (const i of step.order) {
              const c = step.cells[i]! as { v?: TagValue; e?: string };
              if (c.v !== undefined) values[names[i]!] = c.v;
              if (c.e !== undefined) errors[names[i]!] = c.e;
            }
            if (step.stranger !== null) values[step.strangerName] = step.stranger;
            const want = ref.apply({ values: { ...values }, errors }, now);
            const got = filter.apply({ values, errors }, now);
            assert.deepStrictEqual(got, want, `step ${k}`);
            if (got)
              assert.equal(filter.lastValuesJson, JSON.stringify(got.values), 'values JSON text');
            if (got && want) {
              assert.deepStrictEqual(
                Object.keys(got.values),
                Object.keys(want.values),
                'key order',
              );
              assert.deepStrictEqual(Object.keys(got.quality), Object.keys(want.quality));
            }
            const lv: Record<string, TagValue> = {};
            const lq: Record<string, 'bad'> = {};
            filter.latest(lv, lq);
            assert.deepStrictEqual(lv, ref.viewValues, `live values after step ${k}`);
            assert.deepStrictEqual(lq, ref.viewQuality, `live quality after step ${k}`);
          });
        },
      ),
      { numRuns: 400 },
    );
  },
);

test('a read that changes every value is published as its own record, not a copy', () => {
  const tags = ['a', 'b', 'c'].map((n) => tagOf(n, 'float', 0));
  const f = new ChangeFilter(tags, { fullReportMs: 0 });
  const first = { a: 1, b: 2, c: 3 };
  assert.equal(f.apply({ values: first, errors: {} }, 0)?.values, first);
  const moved = { a: 2, b: 3, c: 4 };
  assert.equal(f.apply({ values: moved, errors: {} }, 1)?.values, moved);
  const partly = { a: 2, b: 9, c: 4 };
  const r = f.apply({ values: partly, errors: {} }, 2)!;
  assert.notEqual(r.values, partly);
  assert.deepStrictEqual(r.values, { b: 9 });
  assert.equal(f.lastValueCount, 3);
});

test('deadbands: numbers in the arrays keep exact int64 values and compare strings exactly', () => {
  const f = new ChangeFilter([tagOf('big', 'int64', 2)], { fullReportMs: 0 });
  f.apply({ values: { big: 9_007_199_254_740_991 }, errors: {} }, 0);
  // Within the deadband: not reported; the reference stays the exact last reported value.
  assert.equal(f.apply({ values: { big: 9_007_199_254_740_989 }, errors: {} }, 1), undefined);
  assert.deepStrictEqual(
    f.apply({ values: { big: '9223372036854775807' }, errors: {} }, 2)?.values,
    {
      big: '9223372036854775807',
    },
  );
  assert.equal(f.apply({ values: { big: '9223372036854775807' }, errors: {} }, 3), undefined);
  // One unit apart as exact decimals is a change even though both round to the same double.
  assert.deepStrictEqual(
    f.apply({ values: { big: '9223372036854775806' }, errors: {} }, 4)?.values,
    {
      big: '9223372036854775806',
    },
  );
});

test('a filter that replaces another (config change) takes over the last values read of the tags that stay', () => {
  const old = new ChangeFilter(
    [tagOf('a', 'float', 0), tagOf('b', 'string', 0), tagOf('gone', 'bool', 0)],
    {
      fullReportMs: 0,
    },
  );
  old.apply({ values: { a: 1.5, b: 'x', gone: true }, errors: {} }, 0);
  old.apply({ values: { a: 2.5, gone: false }, errors: { b: 'timeout' } }, 1);
  const next = new ChangeFilter(
    [tagOf('b', 'string', 0), tagOf('a', 'float', 0.5), tagOf('new', 'float', 0)],
    {
      fullReportMs: 0,
    },
  );
  next.adoptLatest([old]);
  const values: Record<string, TagValue> = {};
  const quality: Record<string, 'bad'> = {};
  next.latest(values, quality);
  assert.deepStrictEqual(values, { b: 'x', a: 2.5 });
  assert.deepStrictEqual(quality, { b: 'bad' });
  // What was reported is not taken over: the new filter's first read is a full report.
  assert.equal(next.apply({ values: { a: 2.5, b: 'x', new: 1 }, errors: {} }, 2)?.full, true);
});
