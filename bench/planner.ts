// Planner and codec bench: requests for a realistic 200-tag map, and decode/filter throughput
// against a raw DataView loop over the same words (the machine's ceiling for this work).
import { tagSchema, type TagConfig } from '../plc/config/schema.js';
import { decodeBlock, planReads, type ReadBlock, type ReadLimits } from '../plc/planner/planner.js';
import { ChangeFilter } from '../plc/report/change-filter.js';

/** Seconds each throughput loop runs. */
const LOOP_SECONDS = 5;

/** A conveyor-line PLC as found in the field: contiguous setpoints, sparse status words, bits, counters, labels. */
export function realisticMap(): TagConfig[] {
  const raw: Record<string, unknown>[] = [];
  const add = (n: number, f: (i: number) => Record<string, unknown>) => {
    for (let i = 0; i < n; i++) raw.push({ name: `t${raw.length}`, ...f(i) });
  };
  add(40, (i) => ({
    area: 'holding',
    address: i * 2,
    type: 'float32',
    byteOrder: 'CDAB',
    deadband: 0.5,
  }));
  add(30, (i) => ({ area: 'holding', address: 100 + i * 2, type: 'int16' }));
  add(16, (i) => ({ area: 'holding', address: 170, type: 'bit', bit: i }));
  add(10, (i) => ({ area: 'holding', address: 200 + i * 2, type: 'uint32' }));
  add(5, (i) => ({ area: 'holding', address: 300 + i * 10, type: 'string', length: 10 }));
  add(40, (i) => ({ area: 'input', address: i, type: 'int16', scale: 0.1, deadband: 0.2 }));
  add(10, (i) => ({ area: 'input', address: 100 + i * 2, type: 'float32' }));
  add(30, (i) => ({ area: 'coil', address: i + (i >= 15 ? 100 : 0), type: 'bool' }));
  add(19, (i) => ({ area: 'discrete', address: i * 3, type: 'bool' }));
  return raw.map((t) => tagSchema.parse(t));
}

function answers(blocks: ReadBlock[]): (number[] | boolean[])[] {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  return blocks.map(
    (b) =>
      b.area === 'coil' || b.area === 'discrete'
        ? Array.from({ length: b.count }, () => rnd() % 2 === 0)
        : Array.from({ length: b.count }, () => rnd() & 0x7f7f), // printable-ish bytes, finite floats
  );
}

function loop(fn: () => number): { perSecond: number; total: number } {
  const until = performance.now() + LOOP_SECONDS * 1000;
  const started = performance.now();
  let total = 0;
  while (performance.now() < until) for (let i = 0; i < 100; i++) total += fn();
  return { perSecond: total / ((performance.now() - started) / 1000), total };
}

export default async function bench(print: (line: string) => void) {
  const tags = realisticMap();
  const limits: ReadLimits = { maxGap: 8, maxRegisters: 125, maxBits: 2000 };
  const blocks = planReads(tags, limits);
  const regs = (bs: ReadBlock[]) =>
    bs.filter((b) => b.area === 'holding' || b.area === 'input').reduce((s, b) => s + b.count, 0);
  print(`200-tag map: one request per tag = ${tags.length} requests`);
  for (const [label, l] of [
    ['default (maxGap 8, 125 registers, 2000 bits)', limits],
    ['maxGap 0 (only touching tags merge)', { ...limits, maxGap: 0 }],
    ['maxRegisters 32 (a small PLC)', { ...limits, maxRegisters: 32 }],
  ] as const) {
    const b = planReads(tags, l);
    print(`planner ${label}: ${b.length} requests, ${regs(b)} registers read`);
  }

  const data = answers(blocks);
  const decode = loop(() => {
    let n = 0;
    for (let i = 0; i < blocks.length; i++)
      n += Object.keys(decodeBlock(blocks[i]!, data[i]!).values).length;
    return n;
  });
  print(`decodeBlock: ${Math.round(decode.perSecond).toLocaleString('en')} tag values/s`);

  const filter = new ChangeFilter(tags, { fullReportMs: 60_000 });
  const reads = blocks.map((b, i) => decodeBlock(b, data[i]!));
  let now = 0;
  const filtered = loop(() => {
    let n = 0;
    now += 100;
    for (const r of reads) {
      filter.apply(r, now);
      n += Object.keys(r.values).length;
    }
    return n;
  });
  print(
    `ChangeFilter.apply (unchanged values): ${Math.round(filtered.perSecond).toLocaleString('en')} tag values/s`,
  );

  // Raw baseline: the same number of 32-bit words read with a bare DataView, no validation or byte order.
  const words = new Uint16Array(regs(blocks)).map((_, i) => i & 0x7f7f);
  const view = new DataView(words.buffer);
  const raw = loop(() => {
    let acc = 0;
    for (let i = 0; i + 4 <= view.byteLength; i += 4) acc += view.getFloat32(i, true);
    return acc === -1 ? 0 : view.byteLength >> 2;
  });
  print(
    `raw baseline (DataView getFloat32 loop): ${Math.round(raw.perSecond).toLocaleString('en')} values/s`,
  );

  return {
    requests_per_tag: tags.length,
    requests_planned: blocks.length,
    decode_values_per_s: Math.round(decode.perSecond),
    filter_values_per_s: Math.round(filtered.perSecond),
    raw_values_per_s: Math.round(raw.perSecond),
  };
}
