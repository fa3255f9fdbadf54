// Report by exception: every rule of ChangeFilter, with explicit clocks (no sleeps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tagSchema, type TagConfig } from '../../plc/config/schema.js';
import { ChangeFilter } from '../../plc/report/change-filter.js';

function tag(name: string, fields: Record<string, unknown> = {}): TagConfig {
  return tagSchema.parse({ name, area: 'holding', address: 0, type: 'float32', ...fields });
}
const ok = (values: Record<string, number | boolean | string>) => ({ values, errors: {} });

test('the first read reports every tag, as a full report', () => {
  const f = new ChangeFilter([tag('a'), tag('b')], { fullReportMs: 0 });
  assert.deepEqual(f.apply({ values: { a: 1 }, errors: { b: 'timeout' } }, 0), {
    values: { a: 1 },
    quality: { b: 'bad' },
    full: true,
  });
});

test('unchanged values report nothing', () => {
  const f = new ChangeFilter(
    [tag('a', { type: 'int16' }), tag('s', { type: 'string', length: 2 })],
    {
      fullReportMs: 0,
    },
  );
  f.apply(ok({ a: 5, s: 'x' }), 0);
  assert.equal(f.apply(ok({ a: 5, s: 'x' }), 100), undefined);
  assert.deepEqual(f.apply(ok({ a: 6, s: 'x' }), 200), {
    values: { a: 6 },
    quality: {},
    full: false,
  });
  assert.deepEqual(f.apply(ok({ a: 6, s: 'y' }), 300), {
    values: { s: 'y' },
    quality: {},
    full: false,
  });
});

test('deadband: a move of exactly the deadband is not a change, more is', () => {
  const f = new ChangeFilter([tag('speed', { deadband: 0.5 })], { fullReportMs: 0 });
  f.apply(ok({ speed: 12.3 }), 0);
  assert.equal(f.apply(ok({ speed: 12.8 }), 1), undefined); // 12.8 - 12.3 is 0.5 up to float artefacts
  assert.equal(f.apply(ok({ speed: 11.8 }), 2), undefined);
  assert.deepEqual(f.apply(ok({ speed: 12.8000001 }), 3)?.values, { speed: 12.8000001 });
  assert.deepEqual(f.apply(ok({ speed: 12.3 }), 4)?.values, { speed: 12.3 }); // 0.5000001 down
});

test('deadband: float artefacts at the boundary do not count (1.1 - 0.8 = 0.30000000000000004)', () => {
  const f = new ChangeFilter([tag('level', { deadband: 0.3 })], { fullReportMs: 0 });
  f.apply(ok({ level: 0.8 }), 0);
  assert.equal(f.apply(ok({ level: 1.1 }), 1), undefined);
  assert.deepEqual(f.apply(ok({ level: 1.1000001 }), 2)?.values, { level: 1.1000001 });
});

test('deadband: the reference is the last reported value, so a slow drift is reported', () => {
  const f = new ChangeFilter([tag('t', { deadband: 1 })], { fullReportMs: 0 });
  f.apply(ok({ t: 20 }), 0);
  const reported: number[] = [];
  for (let i = 1; i <= 25; i++) {
    const r = f.apply(ok({ t: 20 + i * 0.2 }), i);
    if (r) reported.push(r.values.t as number);
  }
  // 0.2 steps: reported each time the drift since the last report exceeds 1 (i.e. after 6 steps).
  assert.deepEqual(
    reported.map((v) => Math.round(v * 10) / 10),
    [21.2, 22.4, 23.6, 24.8],
  );
});

test('deadband 0: any change counts; integers, booleans and strings compare exactly', () => {
  const f = new ChangeFilter([tag('x'), tag('on', { area: 'coil', type: 'bool' })], {
    fullReportMs: 0,
  });
  f.apply(ok({ x: 1, on: false }), 0);
  assert.deepEqual(f.apply(ok({ x: 1.0000001, on: false }), 1)?.values, { x: 1.0000001 });
  assert.deepEqual(f.apply(ok({ x: 1.0000001, on: true }), 2)?.values, { on: true });
  const g = new ChangeFilter([tag('big', { type: 'uint64', deadband: 5 })], { fullReportMs: 0 });
  g.apply(ok({ big: '18446744073709551615' }), 0);
  assert.equal(g.apply(ok({ big: '18446744073709551615' }), 1), undefined);
  assert.deepEqual(g.apply(ok({ big: '18446744073709551614' }), 2)?.values, {
    big: '18446744073709551614',
  });
  assert.deepEqual(g.apply(ok({ big: 7 }), 3)?.values, { big: 7 });
});

test('NaN equals NaN; NaN ↔ number and ±Infinity are changes', () => {
  const f = new ChangeFilter([tag('f', { deadband: 10 })], { fullReportMs: 0 });
  f.apply(ok({ f: NaN }), 0);
  assert.equal(f.apply(ok({ f: NaN }), 1), undefined);
  assert.deepEqual(f.apply(ok({ f: 1 }), 2)?.values, { f: 1 });
  assert.ok(Number.isNaN(f.apply(ok({ f: NaN }), 3)?.values.f));
  assert.deepEqual(f.apply(ok({ f: Infinity }), 4)?.values, { f: Infinity });
  assert.equal(f.apply(ok({ f: Infinity }), 5), undefined);
  assert.deepEqual(f.apply(ok({ f: -Infinity }), 6)?.values, { f: -Infinity });
  assert.deepEqual(f.apply(ok({ f: 5 }), 7)?.values, { f: 5 });
});

test('quality: bad once when a read fails, the value again when it recovers', () => {
  const f = new ChangeFilter([tag('a'), tag('b')], { fullReportMs: 0 });
  f.apply(ok({ a: 1, b: 2 }), 0);
  assert.deepEqual(f.apply({ values: { b: 2 }, errors: { a: 'timeout' } }, 1), {
    values: {},
    quality: { a: 'bad' },
    full: false,
  });
  assert.equal(f.apply({ values: { b: 2 }, errors: { a: 'timeout' } }, 2), undefined);
  // Recovered with the very same value: still reported, the WMS saw it go bad.
  assert.deepEqual(f.apply(ok({ a: 1, b: 2 }), 3), { values: { a: 1 }, quality: {}, full: false });
  assert.equal(f.apply(ok({ a: 1, b: 2 }), 4), undefined);
});

test('a tag that is bad from the start is reported with its value once it reads', () => {
  const f = new ChangeFilter([tag('a')], { fullReportMs: 0 });
  assert.deepEqual(
    f.apply({ values: {}, errors: { a: 'exception 2 (illegal-data-address)' } }, 0)?.quality,
    {
      a: 'bad',
    },
  );
  assert.equal(f.apply({ values: {}, errors: { a: 'again' } }, 1), undefined);
  assert.deepEqual(f.apply(ok({ a: 0 }), 2)?.values, { a: 0 });
});

test('an error wins over a value given for the same tag', () => {
  const f = new ChangeFilter([tag('a')], { fullReportMs: 0 });
  assert.deepEqual(f.apply({ values: { a: 1 }, errors: { a: 'short answer' } }, 0), {
    values: {},
    quality: { a: 'bad' },
    full: true,
  });
});

test('full report every fullReportMs since the last one, good and bad tags alike', () => {
  const f = new ChangeFilter([tag('a'), tag('b'), tag('c')], { fullReportMs: 1000 });
  assert.equal(f.apply(ok({ a: 1, b: 2, c: 3 }), 10_000)?.full, true);
  assert.equal(f.apply({ values: { a: 1, b: 2 }, errors: { c: 'x' } }, 10_500)?.full, false);
  assert.equal(f.apply({ values: { a: 1, b: 2 }, errors: { c: 'x' } }, 10_999), undefined);
  assert.deepEqual(f.apply({ values: { a: 1, b: 2 }, errors: { c: 'x' } }, 11_000), {
    values: { a: 1, b: 2 },
    quality: { c: 'bad' },
    full: true,
  });
  // The period restarts from the full report, not from the previous deadline.
  assert.equal(f.apply({ values: { a: 1, b: 2 }, errors: { c: 'x' } }, 11_999), undefined);
  assert.equal(f.apply({ values: { a: 1, b: 2 }, errors: { c: 'x' } }, 12_300)?.full, true);
});

test('fullReportMs 0 never repeats a full report', () => {
  const f = new ChangeFilter([tag('a')], { fullReportMs: 0 });
  f.apply(ok({ a: 1 }), 0);
  assert.equal(f.apply(ok({ a: 1 }), 1e12), undefined);
});

test('only the tags passed to apply are reported, even in a full report', () => {
  const f = new ChangeFilter([tag('a'), tag('b')], { fullReportMs: 100 });
  assert.deepEqual(f.apply(ok({ a: 1 }), 0)?.values, { a: 1 });
  assert.deepEqual(f.apply(ok({ a: 1 }), 100)?.values, { a: 1 });
  assert.deepEqual(f.apply(ok({ b: 5 }), 101)?.values, { b: 5 });
});

test('reset() makes the next apply report everything', () => {
  const f = new ChangeFilter([tag('a'), tag('b')], { fullReportMs: 0 });
  f.apply({ values: { a: 1 }, errors: { b: 'x' } }, 0);
  assert.equal(f.apply({ values: { a: 1 }, errors: { b: 'x' } }, 1), undefined);
  f.reset();
  assert.deepEqual(f.apply({ values: { a: 1 }, errors: { b: 'x' } }, 2), {
    values: { a: 1 },
    quality: { b: 'bad' },
    full: true,
  });
  assert.equal(f.apply({ values: { a: 1 }, errors: { b: 'x' } }, 3), undefined);
});

test('an empty read reports nothing', () => {
  const f = new ChangeFilter([tag('a')], { fullReportMs: 0 });
  assert.equal(f.apply({ values: {}, errors: {} }, 0), undefined);
});
