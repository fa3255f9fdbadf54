// Group commit in the outbox with real files: records enqueued together reach the disk in one write
// system call, with exactly the rules of one append() each (seqs gap-free, taken only once written,
// order kept, limits and segment rotation identical), and a disk that fills mid-batch takes no seq.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { Outbox, type OutboxOptions, type DropEvent } from '../../agent/outbox/outbox.js';
import { tmpDir } from '../helpers/tmp.js';
import { mountTmpfs, tmpfsUnavailable } from '../helpers/tmpfs.js';
import { makeOutbox } from './outbox-fixture.js';

function make(dir: string, o: Partial<OutboxOptions> = {}): Outbox {
  return makeOutbox(dir, { checkpointIntervalMs: 60_000, ...o });
}

const body = (plc: string, seq: number, pad: number) =>
  JSON.stringify({ plc, seq, pad: 'x'.repeat(pad) });

function drain(ob: Outbox): { key: string; seq: number; payload: string }[] {
  const out: { key: string; seq: number; payload: string }[] = [];
  for (let i = 0; i < 100_000; i++) {
    const batch = ob.take(100);
    if (batch.length === 0) break;
    for (const e of batch) {
      out.push({ key: e.key, seq: e.seq, payload: e.payload.toString() });
      ob.ack(e);
    }
  }
  return out;
}

/** Counts fs.writeSync calls while fn runs (the outbox imports it by name: ESM builtin live binding). */
function countWrites(fn: () => void): number {
  const real = fs.writeSync;
  let n = 0;
  fs.writeSync = ((...a: Parameters<typeof real>) => {
    n++;
    return real(...a);
  }) as typeof real;
  syncBuiltinESMExports();
  try {
    fn();
  } finally {
    fs.writeSync = real;
    syncBuiltinESMExports();
  }
  return n;
}

const segmentFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith('seg-'))
    .sort();

test('one write for a batch of enqueued records; seqs per key in order, payload built with its seq', () => {
  const d = tmpDir();
  try {
    const ob = make(d.path);
    ob.open();
    let appended = 0;
    ob.on('appended', () => appended++);
    const whileQueuing = countWrites(() => {
      for (let i = 0; i < 300; i++)
        ob.enqueue(`plc-${i % 3}`, 0, (s) => body(`plc-${i % 3}`, s, 20));
    });
    assert.equal(whileQueuing, 0, 'nothing is written while the batch gathers');
    const writes = countWrites(() => ob.flush());
    assert.equal(writes, 1, 'one write system call for 300 records');
    assert.equal(appended, 1, "one 'appended' (so one pump, one socket write) for the batch");
    assert.equal(ob.stats().messages, 300);
    for (const k of ['plc-0', 'plc-1', 'plc-2']) assert.equal(ob.lastSeq(k), 100);
    const got = drain(ob);
    assert.equal(got.length, 300);
    for (const [i, g] of got.entries()) {
      assert.equal(g.key, `plc-${i % 3}`, 'append order kept');
      assert.equal(g.seq, Math.floor(i / 3) + 1);
      assert.equal(JSON.parse(g.payload).seq, g.seq, 'the payload carries the seq it was given');
    }
    ob.close();
  } finally {
    d.cleanup();
  }
});

test('enqueue writes on its own within the group-commit delay; close() writes what is still queued', async () => {
  const d = tmpDir();
  try {
    let ob = make(d.path);
    ob.open();
    ob.enqueue('a', 0, (s) => body('a', s, 0));
    ob.enqueue('a', 0, (s) => body('a', s, 0));
    const t0 = Date.now();
    while (ob.stats().messages < 2 && Date.now() - t0 < 5000)
      await new Promise((r) => setTimeout(r, 1));
    assert.equal(ob.stats().messages, 2);
    ob.enqueue('a', 0, (s) => body('a', s, 0));
    // append() after enqueue(): the queued one is written first, so order and seqs follow.
    assert.deepEqual(
      ob.append('a', 0, (s) => body('a', s, 0)),
      { seq: 4, stored: true },
    );
    ob.enqueue('a', 0, (s) => body('a', s, 0));
    ob.close();
    ob = make(d.path);
    ob.open();
    assert.deepEqual(
      drain(ob).map((g) => g.seq),
      [1, 2, 3, 4, 5],
    );
    ob.close();
  } finally {
    d.cleanup();
  }
});

// The same records, one append() each or enqueued in batches of 250, under tight limits (segment
// rotation and both full-outbox policies inside batches): the same files, seqs, drops and payloads.
for (const policy of ['drop-oldest', 'reject-new'] as const)
  test(`a batch behaves exactly as one append per record (${policy}, segment rotation, limits)`, () => {
    const a = tmpDir();
    const b = tmpDir();
    try {
      const o = { maxBytes: 256 * 1024, policy, segmentBytes: 16 * 1024 };
      const one = make(a.path, o);
      const many = make(b.path, o);
      const drops: [DropEvent[], DropEvent[]] = [[], []];
      one.on('dropped', (e: DropEvent) => drops[0].push(e));
      many.on('dropped', (e: DropEvent) => drops[1].push(e));
      one.open();
      many.open();
      const total = 3000; // ~0.8 MiB of records of varying size into 256 KiB
      const pad = (i: number) => (i * 37) % 400;
      // One record larger than a segment: dropped as too-large in both, no seq taken.
      const big = 700;
      for (let i = 0; i < total; i++) {
        const p = i === big ? 20_000 : pad(i);
        one.append(`k${i % 5}`, 0, (s) => body(`k${i % 5}`, s, p));
      }
      for (let i = 0; i < total; i++) {
        const p = i === big ? 20_000 : pad(i);
        many.enqueue(`k${i % 5}`, 0, (s) => body(`k${i % 5}`, s, p));
        if (i % 250 === 249) many.flush();
      }
      many.flush();
      assert.deepEqual(many.stats().messages, one.stats().messages);
      assert.deepEqual(many.stats().dropped, one.stats().dropped);
      assert.ok(one.stats().dropped > 0, 'the limits were reached');
      assert.deepEqual(
        drops[1].map((e) => [e.reason, e.messages]),
        drops[0].map((e) => [e.reason, e.messages]),
      );
      assert.deepEqual(segmentFiles(b.path), segmentFiles(a.path), 'same segment rotation');
      for (let k = 0; k < 5; k++) assert.equal(many.lastSeq(`k${k}`), one.lastSeq(`k${k}`));
      const strip = (g: { key: string; seq: number; payload: string }[]) =>
        g.map(({ key, seq, payload }) => ({ key, seq, payload }));
      assert.deepEqual(strip(drain(many)), strip(drain(one)));
      one.close();
      many.close();
    } finally {
      a.cleanup();
      b.cleanup();
    }
  });

const skip = tmpfsUnavailable();

test(
  'a disk that fills in the middle of a batch: the records written keep their seqs, the rest take none',
  { timeout: 30_000, skip },
  () => {
    const tfs = mountTmpfs(512 * 1024);
    try {
      writeFileSync(join(tfs.path, 'filler'), Buffer.alloc(256 * 1024));
      const dir = join(tfs.path, 'outbox');
      const ob = make(dir, { fsync: 'always', segmentBytes: 32 * 1024 });
      const drops: DropEvent[] = [];
      ob.on('dropped', (e: DropEvent) => drops.push(e));
      ob.open();
      // Batches of 50 odd-sized records until the disk is full: some batches partly written.
      for (let round = 0; round < 100 && drops.length === 0; round++) {
        for (let i = 0; i < 50; i++) ob.enqueue('p', 0, (s) => body('p', s, 301));
        ob.flush();
      }
      assert.ok(drops.length > 0, 'the disk filled');
      assert.ok(drops.every((e) => e.reason === 'disk-full' && e.messages === 1 && e.key === 'p'));
      const stored = ob.stats().messages;
      assert.ok(stored > 100, `some stored before the disk filled (${stored})`);
      assert.equal(ob.lastSeq('p'), stored, 'no seq taken by a dropped reading');
      const onDisk = segmentFiles(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
      assert.equal(onDisk, ob.stats().diskBytes, 'no partial record left on disk');

      unlinkSync(join(tfs.path, 'filler'));
      for (let i = 0; i < 20; i++) ob.enqueue('p', 0, (s) => body('p', s, 301));
      ob.flush();
      assert.equal(ob.stats().writeFailure, undefined, 'writing again');
      const seqs = drain(ob).map((g) => g.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: stored + 20 }, (_, i) => i + 1),
        'every stored seq, no gap, the next ones follow',
      );
      ob.close();
      const again = make(dir);
      again.open();
      assert.equal(again.lastSeq('p'), stored + 20);
      again.close();
    } finally {
      tfs.cleanup();
    }
  },
);
