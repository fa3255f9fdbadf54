// The running agent as a Sparkplug 3.0 edge node, seen by a subscriber that decodes with Tahu's decoder:
// NBIRTH with bdSeq and Node Control/Rebirth; a DBIRTH listing every tag with its datatype, alias and the
// simulator's value (int64/uint64 exact); DDATA by alias following changes; seq 0–255 wrapping; a rebirth
// on request; bad NCMD/DCMD ignored with an alert; and after kill -9 the will: an NDEATH whose bdSeq
// matches the NBIRTH, with the next start using the next bdSeq.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { be, ordered } from '../e2e/expected-registers.js';
import {
  GROUP,
  NODE,
  assertSeqContinuous,
  byName,
  int64Text,
  num,
  startRig,
  tahu,
  uint64Text,
  type SpMessage,
} from './harness.js';

const DEVICE = 'conveyor-1';

interface Case {
  tag: Record<string, unknown>;
  regs?: number[];
  type: string;
  check: (v: unknown) => void;
}

function cases(): Case[] {
  const out: Case[] = [];
  let addr = 0;
  const reg = (
    name: string,
    type: string,
    raw: number | bigint,
    spType: string,
    check: (v: unknown) => void,
    extra: object = {},
  ) => {
    const regs = ordered(be(type, raw), (extra as { byteOrder?: 'CDAB' }).byteOrder ?? 'ABCD');
    out.push({
      tag: { name, area: 'holding', address: addr, type, ...extra },
      regs,
      type: spType,
      check,
    });
    addr += regs.length;
  };
  const eq = (x: unknown) => (v: unknown) => assert.equal(v, x);
  reg('i16', 'int16', -1234, 'Int16', eq(-1234));
  reg('u16', 'uint16', 54321, 'UInt16', eq(54321));
  reg('i32', 'int32', -123456789, 'Int32', eq(-123456789), { byteOrder: 'CDAB' });
  reg('u32', 'uint32', 4_000_000_000, 'UInt32', (v) => assert.equal(num(v), 4_000_000_000));
  reg('i64', 'int64', -9_007_199_254_740_993n, 'Int64', (v) =>
    assert.equal(int64Text(v), '-9007199254740993'),
  );
  reg('u64', 'uint64', 18_446_744_073_709_551_615n, 'UInt64', (v) =>
    assert.equal(uint64Text(v), '18446744073709551615'),
  );
  reg('f32', 'float32', 1.5, 'Float', eq(1.5));
  reg('f64', 'float64', Math.PI, 'Double', eq(Math.PI));
  reg('scaled', 'int16', 1234, 'Double', eq(123.4), { scale: 0.1 });
  reg('offset', 'uint32', 1000, 'Double', eq(1500), { scale: 0.5, offset: 1000 });
  out.push({
    tag: { name: 'str', area: 'holding', address: addr, type: 'string', length: 4 },
    regs: [0x504c, 0x432d, 0x3031, 0],
    type: 'String',
    check: eq('PLC-01'),
  });
  addr += 4;
  out.push({
    tag: { name: 'bit3', area: 'holding', address: addr, type: 'bit', bit: 3 },
    regs: [0b1000],
    type: 'Boolean',
    check: eq(true),
  });
  addr += 1;
  out.push({
    tag: { name: 'coil5', area: 'coil', address: 5, type: 'bool' },
    type: 'Boolean',
    check: eq(true),
  });
  // Last: the register the test moves for DDATA and the seq wrap.
  out.push({
    tag: { name: 'moving', area: 'holding', address: 100, type: 'uint16' },
    type: 'UInt16',
    check: eq(0),
  });
  return out;
}

test(
  'births, DDATA, seq wrap, rebirth, bad commands and the will',
  { timeout: 300_000 },
  async (t) => {
    const all = cases();
    const rig = await startRig({
      plcs: (port) => [
        {
          id: DEVICE,
          transport: { type: 'tcp', host: '127.0.0.1', port },
          groups: [
            { intervalMs: 20, tags: all.filter((c) => c.tag.name === 'moving').map((c) => c.tag) },
            { intervalMs: 200, tags: all.filter((c) => c.tag.name !== 'moving').map((c) => c.tag) },
          ],
        },
      ],
    });
    t.after(() => rig.close());
    const holding = rig.sim.registers(1, 'holding');
    for (const c of all) if (c.regs) holding.set(c.regs, c.tag.address as number);
    rig.sim.registers(1, 'coil')[5] = 1;

    // ---- NBIRTH and DBIRTH ----
    await rig.until(() => rig.ofType('DBIRTH', DEVICE).length > 0, 90_000, 'the DBIRTH');
    assert.deepEqual(rig.undecodable, []);
    const nbirth = rig.ofType('NBIRTH')[0]!;
    assert.equal(nbirth.topic, `spBv1.0/${GROUP}/NBIRTH/${NODE}`);
    assert.equal(nbirth.seq, 0);
    const nm = byName(nbirth.payload);
    assert.equal(nm.get('bdSeq')?.type, 'Int64');
    const bdSeq = num(nm.get('bdSeq')!.value);
    assert.equal(nm.get('Node Control/Rebirth')?.type, 'Boolean');
    assert.equal(nm.get('Node Control/Rebirth')?.value, false);

    const dbirth = rig.ofType('DBIRTH', DEVICE)[0]!;
    assert.equal(dbirth.topic, `spBv1.0/${GROUP}/DBIRTH/${NODE}/${DEVICE}`);
    const dm = byName(dbirth.payload);
    assert.equal(dm.size, all.length, 'every tag is in the DBIRTH');
    const aliases = new Set<number>();
    for (const c of all) {
      const m = dm.get(c.tag.name as string);
      assert.ok(m, `DBIRTH has ${c.tag.name as string}`);
      assert.equal(m.type, c.type, `datatype of ${c.tag.name as string}`);
      c.check(m.value);
      assert.ok(m.alias !== undefined, 'every metric has an alias');
      aliases.add(num(m.alias));
    }
    assert.equal(aliases.size, all.length, 'aliases are unique');
    const movingAlias = num(dm.get('moving')!.alias);

    // ---- DDATA by alias follows a change ----
    holding[100] = 7;
    await rig.until(
      () => rig.ofType('DDATA', DEVICE).some((m) => m.payload.metrics.some((x) => x.value === 7)),
      30_000,
      'the DDATA with the new value',
    );
    const ddata = rig
      .ofType('DDATA', DEVICE)
      .find((m) => m.payload.metrics.some((x) => x.value === 7))!;
    const metric = ddata.payload.metrics.find((x) => x.value === 7)!;
    assert.equal(num(metric.alias), movingAlias, 'DDATA names the tag by its alias');
    assert.equal(metric.name, undefined, 'no name in DDATA');
    assert.equal(metric.type, 'UInt16');
    assert.ok(!metric.isHistorical);

    // ---- seq wraps 255 -> 0 ----
    let n = 8;
    const mover = setInterval(() => (holding[100] = n++ % 60_000), 10);
    try {
      await rig.until(
        () => rig.sp.some((m, i) => m.seq === 0 && i > 0 && rig.sp[i - 1]?.seq === 255),
        60_000,
        'seq to wrap from 255 to 0',
      );
    } finally {
      clearInterval(mover);
    }
    assertSeqContinuous(rig.sp);

    // ---- bad input: garbage NCMD, DCMD while commands are off; the node keeps running ----
    await rig.publish(`spBv1.0/${GROUP}/NCMD/${NODE}`, Buffer.from([0xff, 0xff, 0xff, 0x07]));
    const dcmd = tahu.encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: 'u16', type: 'UInt16', value: 5 }],
    });
    await rig.publish(`spBv1.0/${GROUP}/DCMD/${NODE}/${DEVICE}`, Buffer.from(dcmd));
    await rig.until(
      () =>
        rig.alerts.some((a) => a.code === 'sparkplug.ncmd-refused' && a.reason === 'malformed') &&
        rig.alerts.some(
          (a) => a.code === 'sparkplug.dcmd-refused' && a.reason === 'commands-disabled',
        ),
      30_000,
      'alerts for the bad NCMD and the refused DCMD',
    );
    assert.notEqual(holding[0], 5, 'nothing was written');

    // ---- rebirth on request ----
    const before = rig.sp.length;
    const rebirth = tahu.encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }],
    });
    await rig.publish(`spBv1.0/${GROUP}/NCMD/${NODE}`, Buffer.from(rebirth));
    await rig.until(
      () => rig.sp.slice(before).some((m) => m.type === 'DBIRTH'),
      30_000,
      'the rebirth',
    );
    const reborn = rig.sp.slice(before).find((m) => m.type === 'NBIRTH')!;
    assert.equal(reborn.seq, 0);
    assert.equal(
      num(byName(reborn.payload).get('bdSeq')!.value),
      bdSeq,
      'same session, same bdSeq',
    );
    const redb = rig.sp.slice(before).find((m) => m.type === 'DBIRTH')!;
    assert.equal(redb.seq, 1, 'DBIRTH follows the NBIRTH');
    assertSeqContinuous(rig.sp);

    // ---- kill -9: the broker publishes the will, an NDEATH with the NBIRTH's bdSeq ----
    await rig.killAgent();
    await rig.until(() => rig.ofType('NDEATH').length > 0, 60_000, 'the NDEATH will');
    const death: SpMessage = rig.ofType('NDEATH')[0]!;
    assert.equal(death.topic, `spBv1.0/${GROUP}/NDEATH/${NODE}`);
    assert.equal(
      num(byName(death.payload).get('bdSeq')!.value),
      bdSeq,
      'will bdSeq = NBIRTH bdSeq',
    );

    // ---- restart: a new session with the next bdSeq (kept on disk) ----
    const mark = rig.sp.length;
    await rig.startAgent();
    await rig.until(
      () => rig.sp.slice(mark).some((m) => m.type === 'NBIRTH'),
      90_000,
      'the new NBIRTH',
    );
    const next = rig.sp.slice(mark).find((m) => m.type === 'NBIRTH')!;
    assert.equal(num(byName(next.payload).get('bdSeq')!.value), (bdSeq + 1) % 256);
    assert.deepEqual(rig.undecodable, [], 'Tahu decoded every message');
  },
);
