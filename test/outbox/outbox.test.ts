// The on-disk outbox through its public interface, with real files: restart, torn tail, acks, limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Outbox, type OutboxOptions, type DropEvent } from '../../agent/outbox/outbox.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeOutbox } from './outbox-fixture.js';

function make(dir: string, o: Partial<OutboxOptions> = {}): Outbox {
  return makeOutbox(dir, o);
}

const body = (plc: string, seq: number, pad = 0) =>
  Buffer.from(JSON.stringify({ plc, seq, pad: 'x'.repeat(pad) }));

function appendN(ob: Outbox, key: string, n: number, pad = 0): void {
  for (let i = 0; i < n; i++) ob.append(key, 0, (seq) => body(key, seq, pad));
}

function drain(ob: Outbox): { key: string; seq: number }[] {
  const out: { key: string; seq: number }[] = [];
  for (;;) {
    const batch = ob.take(100);
    if (batch.length === 0) return out;
    for (const e of batch) {
      out.push({ key: e.key, seq: e.seq });
      ob.ack(e);
    }
  }
}

test(
  'messages and seq survive a restart; acknowledged ones are not replayed',
  { timeout: 20_000 },
  () => {
    const d = tmpDir();
    try {
      let ob = make(d.path);
      ob.open();
      appendN(ob, 'a', 500, 100);
      appendN(ob, 'b', 10);
      ob.close();
      ob = make(d.path);
      ob.open();
      assert.equal(ob.stats().messages, 510);
      assert.equal(ob.lastSeq('a'), 500);
      const got = drain(ob);
      assert.deepEqual(
        got.filter((g) => g.key === 'a').map((g) => g.seq),
        Array.from({ length: 500 }, (_, i) => i + 1),
      );
      assert.equal(ob.stats().messages, 0);
      const { segments } = ob.compact();
      assert.ok(segments > 0, 'fully acknowledged segments are deleted');
      ob.close();
      ob = make(d.path);
      ob.open();
      assert.equal(ob.stats().messages, 0);
      assert.equal(drain(ob).length, 0);
      assert.equal(
        ob.append('a', 0, (s) => body('a', s)).seq,
        501,
        'seq keeps rising after compaction',
      );
      ob.close();
    } finally {
      d.cleanup();
    }
  },
);

test('a torn tail after a crash is cut off, everything before it kept', { timeout: 10_000 }, () => {
  const d = tmpDir();
  try {
    let ob = make(d.path);
    ob.open();
    appendN(ob, 'a', 20);
    ob.close();
    const seg = readdirSync(d.path)
      .filter((f) => f.startsWith('seg-'))
      .sort()
      .at(-1)!;
    // A half-written record: a plausible length, then the process died.
    appendFileSync(join(d.path, seg), Buffer.from([0, 0, 0, 60, 1, 2, 3, 4, 5]));
    ob = make(d.path);
    ob.open();
    assert.equal(ob.stats().messages, 20);
    ob.append('a', 0, (s) => body('a', s));
    assert.deepEqual(
      drain(ob).map((g) => g.seq),
      Array.from({ length: 21 }, (_, i) => i + 1),
    );
    ob.close();
  } finally {
    d.cleanup();
  }
});

test(
  'the acknowledged position advances only over a contiguous prefix',
  { timeout: 10_000 },
  () => {
    const d = tmpDir();
    try {
      let ob = make(d.path);
      ob.open();
      appendN(ob, 'a', 3);
      const [e1, e2, e3] = ob.take(3);
      ob.ack(e2!);
      ob.ack(e3!);
      assert.equal(ob.stats().messages, 3, 'nothing acknowledged while 1 is missing');
      ob.close();
      ob = make(d.path);
      ob.open();
      assert.deepEqual(
        drain(ob).map((g) => g.seq),
        [1, 2, 3],
      );
      ob.close();
      void e1;
    } finally {
      d.cleanup();
    }
  },
);

test(
  'after a lost connection, unacknowledged messages are taken again in order',
  { timeout: 10_000 },
  () => {
    const d = tmpDir();
    try {
      const ob = make(d.path);
      ob.open();
      appendN(ob, 'a', 10);
      const first = ob.take(4);
      ob.ack(first[0]!);
      ob.rewind();
      assert.deepEqual(
        drain(ob).map((g) => g.seq),
        [2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      ob.close();
    } finally {
      d.cleanup();
    }
  },
);

for (const policy of ['drop-oldest', 'reject-new'] as const) {
  test(
    `a full outbox under ${policy}: the right messages kept, drops counted`,
    { timeout: 20_000 },
    () => {
      const d = tmpDir();
      try {
        const ob = make(d.path, { maxBytes: 1024 ** 2, policy, segmentBytes: 64 * 1024 });
        const drops: DropEvent[] = [];
        ob.on('dropped', (e: DropEvent) => drops.push(e));
        ob.open();
        const total = 12_000; // ~3 MiB of ~270-byte records into 1 MiB
        appendN(ob, 'p', total, 200);
        const st = ob.stats();
        assert.ok(st.diskBytes <= 1024 ** 2, `disk ${st.diskBytes} within maxBytes`);
        const kept = drain(ob).map((g) => g.seq);
        assert.ok(kept.length > 1000 && kept.length < total);
        for (let i = 1; i < kept.length; i++)
          assert.equal(kept[i], kept[i - 1]! + 1, 'kept run is contiguous');
        if (policy === 'drop-oldest') assert.equal(kept.at(-1), total, 'the newest are kept');
        else assert.equal(kept[0], 1, 'the oldest are kept');
        assert.equal(st.dropped, total - kept.length, 'every drop counted');
        assert.equal(
          drops.reduce((n, e) => n + e.messages, 0),
          total - kept.length,
        );
        assert.ok(drops.every((e) => e.reason === policy));
        ob.close();
      } finally {
        d.cleanup();
      }
    },
  );
}
