// Maintenance window arithmetic (agent/maintenance/window-clock.ts) and its announcements on a given
// clock: next start/end from cron, inside/outside, overlapping windows merged, a restart inside a
// window announces `started` again with the right end, a window missed while down is announced ended;
// bad window config is refused by `config check` naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { CronMatcher, WindowClock } from '../../agent/maintenance/window-clock.js';
import { WindowAnnouncer, type WindowPayload } from '../../agent/maintenance/window-announcer.js';
import { validateConfig } from '../../agent/config/validate.js';
import { isConfigError } from '../../platform/config-error.js';
import { tmpDir } from '../helpers/tmp.js';

// Local time, as node-cron reads cron expressions.
const at = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) =>
  new Date(y, mo - 1, d, h, mi, s);

test('next cron match after any instant, five or six fields', () => {
  const sunday3 = new CronMatcher('0 3 * * 0');
  // Monday 30 Nov 2026 08:00 → Sunday 6 Dec 03:00.
  assert.deepEqual(sunday3.nextAfter(at(2026, 11, 30, 8)), at(2026, 12, 6, 3));
  // Strictly after: at the match itself, the next week.
  assert.deepEqual(sunday3.nextAfter(at(2026, 12, 6, 3)), at(2026, 12, 13, 3));
  const every20s = new CronMatcher('*/20 * * * * *');
  assert.deepEqual(every20s.nextAfter(at(2026, 11, 30, 8, 0, 5)), at(2026, 11, 30, 8, 0, 20));
  assert.deepEqual(every20s.nextAfter(at(2026, 11, 30, 8, 59, 41)), at(2026, 11, 30, 9, 0, 0));
  // Last day of the month.
  assert.deepEqual(new CronMatcher('0 1 L * *').nextAfter(at(2027, 2, 3)), at(2027, 2, 28, 1));
});

test('inside / outside a window, its start and end, the next one', () => {
  const c = new WindowClock([{ cron: '0 2 * * *', durationMinutes: 90 }]);
  assert.equal(c.configured, true);
  assert.equal(c.inside(at(2026, 11, 30, 1, 59, 59)), false);
  assert.deepEqual(c.current(at(2026, 11, 30, 2)), {
    start: at(2026, 11, 30, 2),
    end: at(2026, 11, 30, 3, 30),
  });
  assert.deepEqual(c.current(at(2026, 11, 30, 3, 29, 59))?.end, at(2026, 11, 30, 3, 30));
  // The end is not inside ([start, end)).
  assert.equal(c.inside(at(2026, 11, 30, 3, 30)), false);
  assert.deepEqual(c.next(at(2026, 11, 30, 2, 30)), {
    start: at(2026, 12, 1, 2),
    end: at(2026, 12, 1, 3, 30),
  });
  assert.deepEqual(c.currentOrNext(at(2026, 11, 30, 2, 30))?.start, at(2026, 11, 30, 2));
  assert.equal(new WindowClock([]).configured, false);
  assert.equal(new WindowClock([]).next(new Date()), null);
});

test('overlapping windows of several specs merge into one', () => {
  const c = new WindowClock([
    { cron: '0 2 * * *', durationMinutes: 60 },
    { cron: '30 2 * * *', durationMinutes: 60 },
  ]);
  assert.deepEqual(c.current(at(2026, 11, 30, 2, 10)), {
    start: at(2026, 11, 30, 2),
    end: at(2026, 11, 30, 3, 30),
  });
  assert.deepEqual(c.current(at(2026, 11, 30, 3, 15))?.start, at(2026, 11, 30, 2));
  assert.deepEqual(c.next(at(2026, 11, 30, 1))?.end, at(2026, 11, 30, 3, 30));
});

function announcer(dataDir: string, clock: () => Date, jobs: string[] = []) {
  const sent: WindowPayload[] = [];
  const a = new WindowAnnouncer({
    clock: new WindowClock([{ cron: '0 2 * * *', durationMinutes: 60 }]),
    announceMinutes: 15,
    statePath: join(dataDir, 'window.json'),
    publish: (p) => sent.push(p),
    jobs: () => jobs,
    now: clock,
  });
  return { a, sent };
}

test('announced scheduled, started, ended; a restart inside a window announces started again', () => {
  const dir = tmpDir();
  try {
    let now = at(2026, 11, 30, 1, 0);
    const first = announcer(dir.path, () => now, ['fullBackup']);
    first.a.start();
    assert.equal(first.sent.length, 0, 'nothing to say an hour before');
    assert.equal(first.a.view()?.state, 'scheduled', 'the dashboard still sees the next window');
    now = at(2026, 11, 30, 1, 45);
    first.a.start(); // a tick at the announcement time
    now = at(2026, 11, 30, 2, 0);
    first.a.start();
    first.a.stop();
    assert.deepEqual(
      first.sent.map((p) => [p.state, p.start, p.end, p.jobs]),
      [
        [
          'scheduled',
          at(2026, 11, 30, 2).toISOString(),
          at(2026, 11, 30, 3).toISOString(),
          ['fullBackup'],
        ],
        [
          'started',
          at(2026, 11, 30, 2).toISOString(),
          at(2026, 11, 30, 3).toISOString(),
          ['fullBackup'],
        ],
      ],
    );
    // The process restarts inside the window: started again, with the same end.
    now = at(2026, 11, 30, 2, 40);
    const second = announcer(dir.path, () => now);
    second.a.start();
    second.a.stop();
    assert.deepEqual(
      second.sent.map((p) => [p.state, p.end]),
      [['started', at(2026, 11, 30, 3).toISOString()]],
    );
    // Down across the end: the next process says ended for it first.
    now = at(2026, 11, 30, 5, 0);
    const third = announcer(dir.path, () => now);
    third.a.start();
    third.a.stop();
    assert.deepEqual(
      third.sent.map((p) => [p.state, p.start]),
      [['ended', at(2026, 11, 30, 2).toISOString()]],
    );
  } finally {
    dir.cleanup();
  }
});

test('bad window config is refused naming the field', () => {
  const problems = (doc: unknown): string[] => {
    try {
      validateConfig(doc);
      return [];
    } catch (e) {
      if (!isConfigError(e)) throw e;
      return e.issues.map((i) => i.path);
    }
  };
  assert.deepEqual(
    problems({ maintenance: { windows: [{ cron: 'not cron', durationMinutes: 5 }] } }),
    ['maintenance.windows.0.cron'],
  );
  assert.deepEqual(
    problems({
      maintenance: {
        windows: [
          { cron: '0 2 * * *', durationMinutes: 60 },
          { cron: '0 3 * * *', durationMinutes: 0 },
          { cron: '0 4 * * *', durationMinutes: 1e9 },
          { cron: '0 5 * * *' },
        ],
        announceMinutes: -1,
      },
    }).sort(),
    [
      'maintenance.announceMinutes',
      'maintenance.windows.1.durationMinutes',
      'maintenance.windows.2.durationMinutes',
      'maintenance.windows.3.durationMinutes',
    ],
  );
  // Seconds field and fractions are allowed (tests, short windows).
  const ok = validateConfig({
    maintenance: {
      windows: [{ cron: '*/30 * * * * *', durationMinutes: 0.25 }],
      announceMinutes: 0.1,
    },
  });
  assert.equal(ok.maintenance.windows[0]!.durationMinutes, 0.25);
});

test('`wms-gateway config check` names each bad window field and exits 2', async () => {
  const dir = tmpDir();
  try {
    const f = join(dir.path, 'gateway.yaml');
    writeFileSync(
      f,
      [
        'maintenance:',
        '  windows:',
        '    - { cron: "61 * * * *", durationMinutes: 30 }',
        '    - { cron: "0 2 * * *", durationMinutes: -5 }',
        '  announceMinutes: 999999',
        'ota: { switch: sometimes }',
        '',
      ].join('\n'),
    );
    const r = await runCli(['config', 'check', f]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /maintenance\.windows\.0\.cron: must be a cron expression/);
    assert.match(r.stderr, /maintenance\.windows\.1\.durationMinutes: must be at least one second/);
    assert.match(r.stderr, /maintenance\.announceMinutes: /);
    assert.match(r.stderr, /ota\.switch: /);
  } finally {
    dir.cleanup();
  }
});
