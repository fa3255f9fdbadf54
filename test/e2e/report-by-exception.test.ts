// The running agent reports by exception: a move within a tag's deadband is not published, one past
// it is (against the last value *published*); a failed read is published once as quality bad and the
// value again once it reads; NaN is published as bad quality; and the live view (/api/state) shows
// what was last read, the failing tag kept with its last value and marked bad. Real simulator, real
// mosquitto, `wms-gateway run`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricValue, startGateway } from '../helpers/gateway-fixture.js';

function float32Words(v: number): [number, number] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return [b.readUInt16BE(0), b.readUInt16BE(2)];
}

type Data = { seq: number; values: Record<string, unknown>; quality: Record<string, string> };
type State = {
  plcs: Array<{ id: string; values: Record<string, unknown>; quality: Record<string, string> }>;
};

test(
  'report by exception through the running agent: deadband, quality bad and back, NaN, live view',
  { timeout: 90_000 },
  async (t) => {
    const gw = await startGateway(t, {
      id: 'gw-rbe',
      sims: 1,
      plcIds: ['line-1'],
      move: false,
      http: true,
      start: false,
      plc: {
        fullReportSeconds: 0,
        groups: [
          {
            intervalMs: 100,
            tags: [
              { name: 'level', area: 'holding', address: 0, type: 'float32', deadband: 0.5 },
              { name: 'mode', area: 'holding', address: 2, type: 'uint16' },
              { name: 'label', area: 'holding', address: 3, type: 'string', length: 1 },
            ],
          },
          {
            intervalMs: 100,
            tags: [{ name: 'flow', area: 'holding', address: 10, type: 'int16', scale: 0.1 }],
          },
        ],
      },
    });
    const regs = gw.sims[0]!.registers(1, 'holding');
    regs.set(float32Words(10), 0);
    regs[2] = 1;
    regs[3] = 0x4142; // "AB"
    regs[10] = 123; // flow 12.3
    await gw.startAgent();
    const data = () => gw.sub.json<Data>('/plc/line-1/data');
    const seen = (pred: (d: Data) => boolean) => data().some(pred);
    const until = gw.until;
    const state = async () => {
      const r = await gw.http('/api/state');
      return (JSON.parse(r.text) as State).plcs.find((p) => p.id === 'line-1')!;
    };
    /** Polls /api/state (and /metrics) until `pred` holds; bounded. */
    const untilHttp = async (path: string, pred: (text: string) => boolean, what: string) => {
      let last = '';
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        last = (await gw.http(path)).text;
        if (pred(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`timed out waiting for ${what}; last ${path}: ${last.slice(0, 2000)}`);
    };

    await until(
      () => seen((d) => d.values.level === 10) && seen((d) => d.values.flow === 12.3),
      60_000,
      'first reads',
    );
    const first = data().find((d) => d.values.level === 10)!;
    assert.deepEqual(first.values, { level: 10, mode: 1, label: 'AB' });

    // Within the deadband (0.25 < 0.5): nothing published for level; mode's change is.
    regs.set(float32Words(10.25), 0);
    regs[2] = 2;
    await until(() => seen((d) => d.values.mode === 2), 10_000, 'mode 2');
    // Past it against the last *published* 10 (0.75 > 0.5), though only 0.5 from the last read.
    regs.set(float32Words(10.75), 0);
    await until(() => seen((d) => d.values.level === 10.75), 10_000, 'level 10.75');
    assert.ok(!seen((d) => d.values.level === 10.25), 'a move within the deadband was published');
    assert.deepEqual(data().find((d) => d.values.mode === 2)!.values, { mode: 2 });

    // The flow group's read fails: quality bad once, the other group unaffected.
    const fault = gw.sims[0]!.setFault({
      area: 'holding',
      from: 10,
      to: 10,
      action: 'exception',
      code: 2,
    });
    await until(() => seen((d) => d.quality.flow === 'bad'), 10_000, 'flow bad');
    regs[2] = 3;
    await until(() => seen((d) => d.values.mode === 3), 10_000, 'mode 3 while flow fails');
    // Let the flow group fail several more polls: it is still published bad only once.
    const errorsNow = () =>
      gw.http('/metrics').then((r) => metricValue(r.text, 'wmsgw_poll_errors_total'));
    const before = await errorsNow();
    await untilHttp(
      '/metrics',
      (text) => metricValue(text, 'wmsgw_poll_errors_total') >= before + 3,
      'three more failed polls',
    );
    const live = await state();
    assert.equal(live.values.flow, 12.3, 'the live view keeps the last value read');
    assert.equal(live.quality.flow, 'bad');
    assert.equal(live.values.level, 10.75);
    assert.equal(live.values.label, 'AB');
    assert.equal(data().filter((d) => d.quality.flow === 'bad').length, 1, 'bad published once');

    // It reads again with the very same value: published, the WMS saw it go bad.
    gw.sims[0]!.clearFault(fault);
    const badAt = data().findIndex((d) => d.quality.flow === 'bad');
    await until(
      () =>
        data()
          .slice(badAt + 1)
          .some((d) => d.values.flow === 12.3),
      10_000,
      'flow back',
    );
    await untilHttp(
      '/api/state',
      (text) => {
        const p = (JSON.parse(text) as State).plcs.find((q) => q.id === 'line-1');
        return p !== undefined && !('flow' in p.quality) && p.values.flow === 12.3;
      },
      'the live view showing flow good again',
    );

    // NaN (float32 0x7fc00000) is published as quality bad, once; a number again as a value.
    regs.set([0x7fc0, 0], 0);
    await until(() => seen((d) => d.quality.level === 'bad'), 10_000, 'level NaN → bad');
    regs.set(float32Words(20), 0);
    await until(() => seen((d) => d.values.level === 20), 10_000, 'level 20');
    assert.equal(data().filter((d) => d.quality.level === 'bad').length, 1);
    const seqs = data().map((d) => d.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, 'seq rises by 1');
  },
);
