// The outbox-full state (CONTRACT §10) on a real on-disk outbox at its bound, under both policies: it
// starts at the first drop at the bound (alert `outbox-full` with the policy as `reason`), stays while
// the bound keeps costing readings or the backlog has not shrunk, and ends (alert `outbox-ok`) only
// after a quiet period with deliveries draining the backlog. Other drops never start it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox, type OutboxOptions } from '../../agent/outbox/outbox.js';
import { watchOutbox } from '../../agent/link/outbox-alerts.js';
import { OutboxFullState, type OutboxFull } from '../../agent/link/outbox-full.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeOutbox } from '../outbox/outbox-fixture.js';

function make(dir: string, o: Partial<OutboxOptions>): Outbox {
  return makeOutbox(dir, { maxBytes: 1024 ** 2, ...o });
}

const pad = 'x'.repeat(200);
function appendN(ob: Outbox, n: number): void {
  for (let i = 0; i < n; i++)
    ob.append('p', 0, (seq) => Buffer.from(`{"seq":${seq},"pad":"${pad}"}`));
}

/** The getter read afresh (assert.equal on it would narrow the property for tsc). */
const stateOf = (f: OutboxFullState): OutboxFull | undefined => f.state;

/** Deliver (take + ack) up to n messages. */
function deliver(ob: Outbox, n: number): void {
  for (const e of ob.take(n)) ob.ack(e);
}

for (const policy of ['drop-oldest', 'reject-new'] as const) {
  test(`outbox-full under ${policy}: starts at the bound, lasts, ends after quiet + draining`, () => {
    const d = tmpDir();
    let now = 1_000_000;
    try {
      const ob = make(d.path, { policy });
      ob.open();
      const events: (OutboxFull | 'ended')[] = [];
      const full = new OutboxFullState({
        messages: () => ob.stats().messages,
        started: (s) => events.push(s),
        ended: () => events.push('ended'),
        quietMs: 1000,
        now: () => now,
      });
      ob.on('dropped', (e) => full.onDrop(e));
      appendN(ob, 3000); // ~700 KiB: under the bound
      assert.equal(stateOf(full), undefined, 'not full under the bound');
      appendN(ob, 3000); // over it
      assert.equal(stateOf(full)?.policy, policy);
      assert.equal(events.length, 1, 'started once');
      assert.equal(stateOf(full)?.dropped, ob.stats().dropped, 'every drop of the episode counted');
      const droppedAtStart = stateOf(full)!.dropped;
      appendN(ob, 2000); // the outage goes on: more drops, same episode
      assert.ok(stateOf(full)!.dropped > droppedAtStart);
      assert.equal(events.length, 1);

      now += 5000;
      full.check();
      assert.ok(stateOf(full), 'quiet but the backlog has not shrunk: still full');
      deliver(ob, 500);
      now += 10;
      full.check();
      assert.equal(stateOf(full), undefined, 'quiet and drained: ended');
      assert.equal(events.at(-1), 'ended');

      // A second episode: drained at once, but the quiet period counts from the last drop.
      appendN(ob, 2000);
      assert.equal(stateOf(full)?.policy, policy, 'a new episode');
      assert.equal(events.length, 3);
      deliver(ob, 1000);
      now += 500;
      full.check();
      assert.ok(stateOf(full), 'drained but not yet quiet');
      now += 600;
      full.check();
      assert.equal(stateOf(full), undefined);
      full.stop();
      ob.close();
    } finally {
      d.cleanup();
    }
  });
}

test('drops that are not the bound (too large) do not start it; the bound alerts outbox-full', () => {
  const d = tmpDir();
  try {
    const ob = make(d.path, { policy: 'reject-new' });
    ob.open();
    const alerts: { code: string; extra?: object }[] = [];
    const fullEvents: (OutboxFull | undefined)[] = [];
    const w = watchOutbox(ob, (_l, code, _m, extra) => alerts.push({ code, extra }), {
      failure: () => undefined,
      recovered: () => undefined,
      full: (s) => fullEvents.push(s),
    });
    ob.append('p', 0, () => Buffer.alloc(200 * 1024, 0x41)); // larger than a segment
    w.drops.flush();
    assert.equal(stateOf(w.full), undefined, 'a too-large message is not the bound');
    assert.deepEqual(
      alerts.map((a) => a.code),
      ['outbox.too-large'],
    );
    appendN(ob, 6000);
    w.drops.flush();
    assert.equal(stateOf(w.full)?.policy, 'reject-new');
    assert.equal(fullEvents.length, 1);
    const a = alerts.find((x) => x.code === 'outbox-full');
    assert.ok(a, `alerted outbox-full (${alerts.map((x) => x.code).join(', ')})`);
    assert.equal((a.extra as { reason?: string }).reason, 'reject-new');
    assert.ok(!alerts.some((x) => x.code.startsWith('outbox.reject')));
    w.full.stop();
    ob.close();
  } finally {
    d.cleanup();
  }
});
