// The balena update lock is held while a write is in flight, and released when its result is out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ackAndResult, startHarness } from './harness.js';
import { cmdId, nowSec } from './signer.js';
import { waitFor } from '../helpers/wait.js';

test(
  'the update lock is held while a write is in flight and released lockLingerMs after the last one',
  { timeout: 30_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'wmsgw-lock-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const lockPath = join(dir, 'balena', 'updates.lock');
    const h = await startHarness({ lockPath, commands: { lockLingerMs: 400 } });
    t.after(() => h.stop());
    const fault = h.sims[0]!.setFault({
      area: 'holding',
      fc: 6,
      from: 20,
      to: 20,
      action: 'delay',
      ms: 400,
      times: 1,
    });
    t.after(() => h.sims[0]!.clearFault(fault));
    assert.equal(existsSync(lockPath), false);
    const id = cmdId('lock');
    const sentAt = Date.now();
    await h.send(
      'cmd',
      await h.signer.sign({
        id,
        plc: 'plc1',
        op: 'write',
        values: { target: 3 },
        iat: nowSec(),
        exp: nowSec() + 60,
      }),
    );
    await h.waitFor((m) => m.topic === 'cmd/ack' && m.json.id === id);
    await waitFor(() => existsSync(lockPath), 300, 'lock held during the write', 10);
    const { result } = await ackAndResult(h, id);
    assert.equal(result!.status, 'ok');
    await h.commands.idle();
    assert.equal(existsSync(lockPath), true, 'still held for the next write of a burst');
    await waitFor(() => !existsSync(lockPath), 3000, 'released after lockLingerMs');
    // Bounded below by what the test knows, whatever the load: the write cannot end before the
    // simulator's 400 ms delay, and the linger (400 ms) runs from its end, so the release comes at
    // least 800 ms after the command was sent (less 50 ms of timer rounding).
    const heldFor = Date.now() - sentAt;
    assert.ok(heldFor >= 750, `released ${heldFor} ms after the command was sent`);
    // A read does not take the lock.
    const rid = cmdId('read');
    await h.send(
      'cmd',
      await h.signer.sign({
        id: rid,
        plc: 'plc1',
        op: 'read',
        tags: ['target'],
        iat: nowSec(),
        exp: nowSec() + 60,
      }),
    );
    assert.equal((await ackAndResult(h, rid)).result!.status, 'ok');
  },
);
