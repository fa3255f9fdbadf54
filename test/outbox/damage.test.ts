// The outbox at the edges, with real files: a file system that fills up (a tmpfs of its own) and a
// segment damaged in the middle. No seq is taken by a record that is not wholly on disk, a failed
// write is cut back before anything else is appended, and records after damage are never discarded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Outbox,
  type DropEvent,
  type OutboxOptions,
  type WriteFailure,
} from '../../agent/outbox/outbox.js';
import { encodeRecord } from '../../agent/outbox/record.js';
import { tmpDir } from '../helpers/tmp.js';
import { mountTmpfs, tmpfsUnavailable } from '../helpers/tmpfs.js';
import { makeOutbox } from './outbox-fixture.js';

function make(dir: string, o: Partial<OutboxOptions> = {}): Outbox {
  return makeOutbox(dir, {
    maxBytes: 64 * 1024 ** 2,
    fsync: 'always',
    checkpointIntervalMs: 60_000,
    ...o,
  });
}

const body = (plc: string, seq: number, pad: number) =>
  Buffer.from(JSON.stringify({ plc, seq, pad: 'x'.repeat(pad) }));

function drain(ob: Outbox): number[] {
  const out: number[] = [];
  for (let i = 0; i < 100_000; i++) {
    const batch = ob.take(100);
    if (batch.length === 0) break;
    for (const e of batch) {
      out.push(e.seq);
      ob.ack(e);
    }
  }
  return out;
}

const segmentBytesOnDisk = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith('seg-'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);

const skip = tmpfsUnavailable();

test(
  'a file system that fills up: drops counted, no partial record, no seq taken, resumes when space returns',
  { timeout: 30_000, skip },
  () => {
    const fs = mountTmpfs(512 * 1024);
    try {
      // Room for the outbox is what the filler leaves; deleting the filler is "space returns".
      writeFileSync(join(fs.path, 'filler'), Buffer.alloc(256 * 1024));
      const dir = join(fs.path, 'outbox');
      const ob = make(dir);
      const drops: DropEvent[] = [];
      const failures: WriteFailure[] = [];
      let recovered = 0;
      ob.on('dropped', (e: DropEvent) => drops.push(e));
      ob.on('write-failure', (f: WriteFailure) => failures.push(f));
      ob.on('write-recovered', () => recovered++);
      ob.open();
      let stored = 0;
      let attempts = 0;
      // Odd-sized records (~333 bytes) so a write crosses a page boundary and is cut short by ENOSPC.
      while (drops.length < 50 && attempts < 5000) {
        attempts++;
        if (ob.append('p', 0, (s) => body('p', s, 301)).stored) stored++;
      }
      assert.ok(stored > 100, `some stored before the disk filled (${stored})`);
      assert.equal(drops.length, 50, 'the disk filled');
      assert.ok(drops.every((d) => d.reason === 'disk-full' && d.messages === 1));
      assert.equal(failures.length, 1, 'one write-failure event for the whole episode');
      assert.equal(failures[0]!.code, 'ENOSPC');
      const st = ob.stats();
      assert.equal(st.dropped, 50);
      assert.equal(st.messages, stored);
      assert.equal(st.writeFailure?.code, 'ENOSPC');
      assert.equal(ob.lastSeq('p'), stored, 'no seq taken by a dropped reading');
      assert.equal(segmentBytesOnDisk(dir), st.diskBytes, 'no partial record left on disk');

      unlinkSync(join(fs.path, 'filler'));
      const after = ob.append('p', 0, (s) => body('p', s, 301));
      assert.deepEqual(
        after,
        { seq: stored + 1, stored: true },
        'space back: the next seq follows',
      );
      assert.equal(recovered, 1);
      assert.equal(ob.stats().writeFailure, undefined);
      for (let i = 0; i < 20; i++) ob.append('p', 0, (s) => body('p', s, 301));
      const seqs = drain(ob);
      assert.deepEqual(
        seqs,
        Array.from({ length: stored + 21 }, (_, i) => i + 1),
        'every stored seq, no gap',
      );
      ob.close();
      // After a restart too: the scan finds nothing torn and the next seq follows.
      const again = make(dir);
      again.open();
      assert.equal(again.lastSeq('p'), stored + 21);
      again.close();
    } finally {
      fs.cleanup();
    }
  },
);

test(
  'a full disk under reject-new and a segment rotation that cannot create its file',
  { timeout: 30_000, skip },
  () => {
    const fs = mountTmpfs(256 * 1024);
    try {
      const dir = join(fs.path, 'outbox');
      // Small segments: the disk fills while a new segment file is being started.
      const ob = make(dir, { policy: 'reject-new', segmentBytes: 16 * 1024, fsync: 'batch' });
      ob.open();
      let stored = 0;
      let dropped = 0;
      for (let i = 0; i < 3000 && dropped < 20; i++) {
        if (ob.append('p', 0, (s) => body('p', s, 211)).stored) stored++;
        else dropped++;
      }
      assert.equal(dropped, 20);
      assert.equal(ob.lastSeq('p'), stored);
      assert.deepEqual(
        drain(ob),
        Array.from({ length: stored }, (_, i) => i + 1),
      );
      ob.close();
    } finally {
      fs.cleanup();
    }
  },
);

test(
  'damage in the middle of a segment: the records after it are kept, not cut as a torn tail',
  { timeout: 10_000 },
  () => {
    const d = tmpDir();
    try {
      let ob = make(d.path, { fsync: 'batch' });
      ob.open();
      for (let i = 0; i < 10; i++) ob.append('a', 0, (s) => body('a', s, 40));
      ob.close();
      const seg = readdirSync(d.path)
        .filter((f) => f.startsWith('seg-'))
        .sort()
        .at(-1)!;
      // What the old code left after a failed write: the start of a record, then more records behind it.
      const torn = encodeRecord({
        key: 'a',
        seq: 11,
        appendedAtMs: Date.now(),
        flags: 0,
        payload: body('a', 11, 400),
      });
      appendFileSync(join(d.path, seg), torn.subarray(0, 150));
      for (let s = 11; s <= 30; s++)
        appendFileSync(
          join(d.path, seg),
          encodeRecord({
            key: 'a',
            seq: s,
            appendedAtMs: Date.now(),
            flags: 0,
            payload: body('a', s, 40),
          }),
        );
      // And a torn tail after those: cut, as before.
      appendFileSync(join(d.path, seg), torn.subarray(0, 30));
      ob = make(d.path, { fsync: 'batch' });
      ob.open();
      assert.equal(ob.stats().messages, 30);
      assert.equal(ob.lastSeq('a'), 30);
      ob.append('a', 0, (s) => body('a', s, 40));
      assert.deepEqual(
        drain(ob),
        Array.from({ length: 31 }, (_, i) => i + 1),
      );
      ob.close();
    } finally {
      d.cleanup();
    }
  },
);
