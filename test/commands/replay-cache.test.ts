// The replay cache survives restarts, forgets only expired ids, tolerates a torn line, and refuses when full.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReplayCache, REPLAY_FILE } from '../../agent/commands/replay-cache.js';
import { isRejectedError } from '../../agent/commands/rejection.js';
import { tmpDir } from '../helpers/tmp.js';

test(
  'ids and results outlive a restart; expired ids are dropped',
  { timeout: 10_000 },
  async (t) => {
    const dir = tmpDir();
    t.after(dir.cleanup);
    const now = Date.now();
    const c = await ReplayCache.open(dir.path, { maxEntries: 100 });
    await c.claim('live', 'h1', now + 60_000);
    await c.claim('old', 'h2', now + 10);
    await c.setResult({ id: 'live', status: 'ok', values: { a: 1 }, ts: 'T' });
    await c.close();
    appendFileSync(join(dir.path, REPLAY_FILE), '{"t":"c","id":"torn","h'); // crash mid-line
    const d = await ReplayCache.open(dir.path, { maxEntries: 100, nowMs: now + 1000 });
    t.after(() => d.close());
    assert.deepEqual(d.lookup('live'), {
      hash: 'h1',
      until: now + 60_000,
      result: { id: 'live', status: 'ok', values: { a: 1 }, ts: 'T' },
    });
    assert.equal(d.lookup('old'), undefined);
    assert.equal(d.lookup('torn'), undefined);
    assert.doesNotMatch(readFileSync(join(dir.path, REPLAY_FILE), 'utf8'), /torn|old/);
  },
);

test(
  'a full cache of live ids refuses new ones instead of forgetting',
  { timeout: 10_000 },
  async (t) => {
    const dir = tmpDir();
    t.after(dir.cleanup);
    const now = Date.now();
    const c = await ReplayCache.open(dir.path, { maxEntries: 3 });
    t.after(() => c.close());
    await c.claim('a', 'h', now + 50);
    await c.claim('b', 'h', now + 60_000);
    await c.claim('c', 'h', now + 60_000);
    assert.throws(
      () => c.claim('d', 'h', now + 60_000, now),
      (e) => isRejectedError(e) && e.code === 'replay-cache-full',
    );
    await c.claim('d', 'h', now + 60_000, now + 100); // 'a' has expired by then
    assert.equal(c.size, 3);
    assert.equal(c.lookup('a'), undefined);
  },
);

test('the journal is compacted as it grows', { timeout: 20_000 }, async (t) => {
  const dir = tmpDir();
  t.after(dir.cleanup);
  const c = await ReplayCache.open(dir.path, { maxEntries: 10_000 });
  t.after(() => c.close());
  const now = Date.now();
  for (let i = 0; i < 2000; i++) await c.claim(`x${i}`, 'h', i < 1900 ? now + 1 : now + 60_000);
  await new Promise((r) => setTimeout(r, 5));
  for (let i = 0; i < 20; i++) await c.claim(`y${i}`, 'h', now + 60_000);
  const lines = readFileSync(join(dir.path, REPLAY_FILE), 'utf8').trim().split('\n').length;
  assert.ok(lines < 1000, `journal has ${lines} lines`);
  assert.ok(c.lookup('x1950'));
  assert.equal(c.lookup('x10'), undefined);
});
