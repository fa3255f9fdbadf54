// Property: whatever the reads, the WMS's view built from the reports tracks every tag within its
// deadband with the right quality, and a non-full report carries nothing the WMS did not need.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tagSchema } from '../../plc/config/schema.js';
import { ChangeFilter } from '../../plc/report/change-filter.js';
import type { TagValue } from '../../plc/codec/codec.js';

const NAMES = ['a', 'b', 'c', 'd'];
const reading = fc.oneof(
  { arbitrary: fc.constant<TagValue | null>(null), weight: 1 }, // read failed
  { arbitrary: fc.integer({ min: -5, max: 5 }).map((i) => i * 0.25), weight: 6 },
  { arbitrary: fc.constantFrom<TagValue>(NaN, Infinity, 1e9), weight: 1 },
);
const read = fc.tuple(...NAMES.map(() => reading));

function within(view: TagValue | undefined, v: TagValue, deadband: number): boolean {
  if (typeof view === 'number' && typeof v === 'number') {
    if (Number.isNaN(view) || Number.isNaN(v)) return Number.isNaN(view) && Number.isNaN(v);
    return view === v || Math.abs(view - v) <= deadband;
  }
  return view === v;
}

test(
  'the published view stays within each deadband and quality is always right',
  { timeout: 60_000 },
  () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 0.25, 0.5, 1),
        fc.constantFrom(0, 300),
        fc.array(read, { minLength: 1, maxLength: 40 }),
        (deadband, fullReportMs, reads) => {
          const tags = NAMES.map((name) =>
            tagSchema.parse({ name, area: 'holding', address: 0, type: 'float64', deadband }),
          );
          const filter = new ChangeFilter(tags, { fullReportMs });
          const view = new Map<string, { value?: TagValue; bad: boolean }>();
          reads.forEach((r, i) => {
            const values: Record<string, TagValue> = {};
            const errors: Record<string, string> = {};
            NAMES.forEach((n, k) =>
              r[k] === null ? (errors[n] = 'timeout') : (values[n] = r[k]!),
            );
            const report = filter.apply({ values, errors }, i * 100);
            if (report && !report.full)
              for (const [n, v] of Object.entries(report.values)) {
                const before = view.get(n);
                assert.ok(
                  !before || before.bad || !within(before.value, v, deadband),
                  `${n} reported needlessly`,
                );
              }
            for (const [n, v] of Object.entries(report?.values ?? {}))
              view.set(n, { value: v, bad: false });
            for (const n of Object.keys(report?.quality ?? {})) {
              assert.ok(!(n in (report?.values ?? {})), `${n} both bad and with a value`);
              view.set(n, { ...view.get(n), bad: true });
            }
            for (const n of NAMES) {
              const seen = view.get(n);
              assert.ok(seen, `${n} never reported`);
              if (n in errors) assert.equal(seen.bad, true, `${n} should be bad`);
              else {
                assert.equal(seen.bad, false, `${n} should be good`);
                assert.ok(
                  within(seen.value, values[n]!, deadband),
                  `${n}: view ${seen.value} vs ${values[n]}`,
                );
              }
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  },
);
