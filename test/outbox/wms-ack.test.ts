// The outbox in wms-ack delivery, through its public interface with real files: a PUBACK keeps a message,
// the WMS's cumulative ack releases it, bad acks change nothing, the acked position survives a restart,
// and unconfirmed messages go again, in order, after the ack timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox, type OutboxOptions } from '../../agent/outbox/outbox.js';
import { readCheckpoint } from '../../agent/outbox/checkpoint.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { makeOutbox } from './outbox-fixture.js';

function make(dir: string, o: Partial<OutboxOptions> = {}): Outbox {
  return makeOutbox(dir, { delivery: 'wms-ack', ...o });
}

const body = (plc: string, seq: number, pad = 0) =>
  Buffer.from(JSON.stringify({ plc, seq, pad: 'x'.repeat(pad) }));

function appendN(ob: Outbox, key: string, n: number, pad = 0): void {
  for (let i = 0; i < n; i++) ob.append(key, 0, (seq) => body(key, seq, pad));
}

/** Publish everything the window offers and PUBACK it; returns [key, seq] in publishing order. */
function publishAll(ob: Outbox): string[] {
  const out: string[] = [];
  for (;;) {
    const batch = ob.take(100);
    if (batch.length === 0) return out;
    for (const e of batch) {
      out.push(`${e.key}${e.seq}`);
      ob.ack(e);
    }
  }
}

test('a PUBACK keeps the message; the WMS ack releases it, cumulatively per PLC', () => {
  const d = tmpDir();
  try {
    const ob = make(d.path);
    ob.open();
    appendN(ob, 'a', 5);
    appendN(ob, 'b', 3);
    assert.equal(publishAll(ob).length, 8);
    assert.equal(ob.stats().messages, 8, 'broker acks release nothing');
    assert.deepEqual(ob.wmsAck('b', 3), { kind: 'applied', released: 0 }, 'b is behind a');
    assert.equal(ob.stats().messages, 8, 'b confirmed but held behind unconfirmed a on disk');
    const r = ob.wmsAck('a', 4);
    assert.deepEqual(r, { kind: 'applied', released: 4 });
    assert.equal(ob.stats().messages, 4, 'a5 and b1..3 remain counted until a5 is confirmed');
    assert.deepEqual(ob.wmsAck('a', 5), { kind: 'applied', released: 4 });
    assert.equal(ob.stats().messages, 0);
    ob.close();
  } finally {
    d.cleanup();
  }
});

test('bad acks are refused and release nothing', () => {
  const d = tmpDir();
  try {
    const ob = make(d.path);
    ob.open();
    appendN(ob, 'a', 10);
    const taken = ob.take(4);
    for (const e of taken) ob.ack(e);
    assert.equal(ob.wmsAck('a', 5).kind, 'ahead', 'seq 5 was never sent');
    assert.equal(ob.wmsAck('a', 1000).kind, 'ahead');
    assert.equal(ob.wmsAck('zz', 1).kind, 'unknown-key');
    assert.equal(ob.stats().messages, 10);
    assert.equal(ob.wmsAck('a', 2).kind, 'applied');
    assert.deepEqual(ob.wmsAck('a', 1), { kind: 'stale', acked: 2 });
    assert.equal(ob.stats().messages, 8);
    ob.close();
    const broker = make(d.path, { delivery: 'broker' });
    broker.open();
    assert.equal(broker.wmsAck('a', 3).kind, 'not-wms-ack-mode');
    broker.close();
  } finally {
    d.cleanup();
  }
});

test('the WMS-acknowledged position survives a restart; the rest is replayed in order', () => {
  const d = tmpDir();
  try {
    let ob = make(d.path, { readAheadBytes: 1024 ** 2 });
    ob.open();
    appendN(ob, 'a', 300, 200); // several segments
    appendN(ob, 'b', 20);
    assert.equal(publishAll(ob).length, 320);
    assert.equal(ob.wmsAck('b', 20).kind, 'applied'); // b is behind a in the log: kept, but confirmed
    assert.equal(ob.wmsAck('a', 120).kind, 'applied');
    ob.close();
    ob = make(d.path);
    ob.open();
    assert.equal(ob.wmsAckedSeq('a'), 120);
    const again = publishAll(ob);
    assert.deepEqual(
      again,
      Array.from({ length: 180 }, (_, i) => `a${121 + i}`),
      'a121..300 again, b (confirmed before the restart) not',
    );
    assert.equal(ob.wmsAck('a', 300).kind, 'applied');
    assert.equal(ob.stats().messages, 0);
    ob.compact();
    assert.ok(ob.stats().diskBytes < 64 * 1024, 'confirmed segments deleted');
    ob.close();
  } finally {
    d.cleanup();
  }
});

test('unconfirmed messages go again after the ack timeout, oldest first, not before', () => {
  const d = tmpDir();
  try {
    const ob = make(d.path);
    ob.open();
    appendN(ob, 'a', 6);
    const t0 = Date.now();
    publishAll(ob);
    ob.wmsAck('a', 2);
    assert.equal(ob.resendUnconfirmed(30_000, t0 + 1000), 0, 'not yet');
    assert.equal(publishAll(ob).length, 0);
    assert.equal(ob.resendUnconfirmed(30_000, t0 + 31_000), 4);
    assert.deepEqual(publishAll(ob), ['a3', 'a4', 'a5', 'a6']);
    ob.wmsAck('a', 6);
    assert.equal(ob.stats().messages, 0);
    ob.close();
  } finally {
    d.cleanup();
  }
});

test('unconfirmed data is bounded by read-ahead: publishing waits for the WMS', () => {
  const d = tmpDir();
  try {
    const ob = make(d.path, { readAheadBytes: 64 * 1024 });
    ob.open();
    appendN(ob, 'a', 2000, 100); // ~280 KiB
    const first = publishAll(ob).length;
    assert.ok(first > 100 && first < 2000, `${first} published before the WMS answered`);
    assert.equal(publishAll(ob).length, 0, 'nothing more until an ack');
    ob.wmsAck('a', first);
    const next = publishAll(ob);
    assert.equal(next[0], `a${first + 1}`, 'continues right after the confirmed seq');
    ob.close();
  } finally {
    d.cleanup();
  }
});

test('switching to broker delivery releases what the broker already took', () => {
  const d = tmpDir();
  try {
    const ob = make(d.path);
    ob.open();
    appendN(ob, 'a', 5);
    publishAll(ob);
    assert.equal(ob.stats().messages, 5);
    ob.setDelivery('broker');
    assert.equal(ob.stats().messages, 0);
    ob.close();
  } finally {
    d.cleanup();
  }
});

test('the periodic checkpoint carries the WMS-confirmed seqs, so a crash keeps them', async () => {
  const d = tmpDir();
  try {
    const ob = make(d.path);
    ob.open();
    appendN(ob, 'a', 5);
    appendN(ob, 'b', 5);
    publishAll(ob);
    assert.equal(ob.wmsAck('b', 5).kind, 'applied');
    // No segment is deleted and close() is not called: only the periodic (async) checkpoint writes.
    await waitFor(
      () => readCheckpoint(d.path)?.acked?.b === 5,
      5000,
      'the periodic checkpoint names b confirmed up to 5',
    );
    ob.close();
  } finally {
    d.cleanup();
  }
});
