// Audit log: JSON lines in order, rotated by size keeping N files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog, AUDIT_FILE } from '../../agent/audit/audit-log.js';
import { tmpDir } from '../helpers/tmp.js';

test('entries are JSON lines with ts, who, what and outcome', { timeout: 10_000 }, async (t) => {
  const dir = tmpDir();
  t.after(dir.cleanup);
  const log = await AuditLog.open(dir.path, { maxBytes: 64 * 1024, files: 3 });
  await Promise.all([
    log.append({
      kind: 'command',
      who: 'k1',
      id: 'c1',
      what: { plc: 'p', op: 'write', values: { t: 1 } },
      outcome: 'accepted',
    }),
    log.append({ kind: 'command', who: 'k1', id: 'c1', what: { plc: 'p' }, outcome: 'ok' }),
  ]);
  await log.close();
  const lines = readFileSync(join(dir.path, AUDIT_FILE), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.equal(lines[0].outcome, 'accepted');
  assert.equal(lines[1].outcome, 'ok');
  assert.ok(!Number.isNaN(Date.parse(lines[0].ts)));
  assert.equal(lines[0].who, 'k1');
});

test(
  'rotation keeps at most `files` files, each under maxBytes, newest first',
  { timeout: 10_000 },
  async (t) => {
    const dir = tmpDir();
    t.after(dir.cleanup);
    const log = await AuditLog.open(dir.path, { maxBytes: 2000, files: 3 });
    for (let i = 0; i < 100; i++)
      await log.append({
        kind: 'command',
        who: null,
        id: i,
        what: { pad: 'x'.repeat(100) },
        outcome: 'rejected',
        reason: 'malformed',
      });
    await log.close();
    assert.deepEqual(readdirSync(dir.path).sort(), [
      'audit.1.jsonl',
      'audit.2.jsonl',
      'audit.jsonl',
    ]);
    const cur = readFileSync(join(dir.path, AUDIT_FILE), 'utf8').trim().split('\n');
    assert.equal(JSON.parse(cur.at(-1)!).id, 99);
    const older = readFileSync(join(dir.path, 'audit.1.jsonl'), 'utf8').trim().split('\n');
    assert.equal(JSON.parse(older.at(-1)!).id + 1, JSON.parse(cur[0]!).id);
    for (const f of readdirSync(dir.path))
      assert.ok(readFileSync(join(dir.path, f)).length <= 2000);
  },
);
