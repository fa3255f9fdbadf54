// Maintenance window arithmetic (CONTRACT.md §8): a window opens at each match of its cron expression
// and lasts durationMinutes. Pure functions of the clock, so the scheduler, the announcements and a
// restart inside a window all agree on one answer. Times are the process's local time, as node-cron's.
import cron, { type ScheduledTask } from 'node-cron';

export interface WindowSpec {
  cron: string;
  durationMinutes: number;
}

export interface Window {
  start: Date;
  end: Date;
}

/** A cron expression that can say its next match after any instant (node-cron only says "after now"). */
export class CronMatcher {
  private readonly seconds: number[];
  private readonly minutes: number[];
  private readonly hours: number[];
  private readonly task: ScheduledTask;

  constructor(readonly expression: string) {
    const f = cron.parse(expression);
    this.seconds = [...f.second].sort((a, b) => a - b);
    this.minutes = [...f.minute].sort((a, b) => a - b);
    this.hours = [...f.hour].sort((a, b) => a - b);
    // Only its `match` is used (day of month, L, #n, weekday rules): never started, so no timer.
    this.task = cron.createTask(expression, () => undefined);
    void this.task.destroy();
  }

  /** The first match strictly after `after` (second resolution), within ~5 years, else null. */
  nextAfter(after: Date): Date | null {
    const from = after.getTime();
    const day = new Date(after.getFullYear(), after.getMonth(), after.getDate());
    // On the first day, times of day up to `after` are skipped by arithmetic, not by building dates.
    let floor = after.getHours() * 3600 + after.getMinutes() * 60 + after.getSeconds();
    for (let i = 0; i < 366 * 5; i++, floor = -1) {
      const y = day.getFullYear();
      const mo = day.getMonth();
      const d = day.getDate();
      // Day fields do not depend on the time of day: one probe says whether this day can match.
      const probe = new Date(y, mo, d, this.hours[0], this.minutes[0], this.seconds[0]);
      if (this.task.match(probe)) {
        for (const h of this.hours) {
          if (h * 3600 + 3599 <= floor) continue;
          for (const m of this.minutes)
            for (const s of this.seconds) {
              if (h * 3600 + m * 60 + s <= floor) continue;
              const t = new Date(y, mo, d, h, m, s);
              // DST gaps move a local time; the match check keeps only real matches.
              if (t.getTime() > from && this.task.match(t)) return t;
            }
        }
      }
      day.setDate(d + 1);
    }
    return null;
  }
}

/** Bound of the chaining below: windows that keep overlapping (a cron every second) stop here. */
const MAX_CHAIN = 1000;

export class WindowClock {
  private readonly specs: Array<{ matcher: CronMatcher; ms: number }>;

  constructor(specs: WindowSpec[]) {
    this.specs = specs.map((s) => ({
      matcher: new CronMatcher(s.cron),
      ms: Math.round(s.durationMinutes * 60_000),
    }));
  }

  get configured(): boolean {
    return this.specs.length > 0;
  }

  /** The window `now` is inside ([start, end)), overlapping windows merged into one; else null. */
  current(now: Date): Window | null {
    let w = this.holding(now);
    if (!w) return null;
    // A window that runs into this one's start is part of it (a restart at 03:15 of 02:00–03:00 +
    // 02:30–03:30 is in one window that started at 02:00).
    for (let i = 0; i < MAX_CHAIN; i++) {
      const before = this.holding(new Date(w.start.getTime() - 1));
      if (!before) break;
      w = { start: before.start, end: before.end > w.end ? before.end : w.end };
    }
    return this.extend(w);
  }

  /** Of the windows holding `now`, the earliest start and the latest end (no chaining). */
  private holding(now: Date): Window | null {
    let best = null as Window | null;
    for (const s of this.specs) {
      // A window holding `now` started in (now - duration, now].
      const start = s.matcher.nextAfter(new Date(now.getTime() - s.ms));
      if (!start || start.getTime() > now.getTime()) continue;
      const end = new Date(start.getTime() + s.ms);
      if (!best) best = { start, end };
      else
        best = {
          start: start < best.start ? start : best.start,
          end: end > best.end ? end : best.end,
        };
    }
    return best;
  }

  /** The next window starting strictly after `now` (merged with those overlapping it), or null. */
  next(now: Date): Window | null {
    let best = null as Window | null;
    for (const s of this.specs) {
      const start = s.matcher.nextAfter(now);
      if (!start) continue;
      const end = new Date(start.getTime() + s.ms);
      if (
        !best ||
        start < best.start ||
        (start.getTime() === best.start.getTime() && end > best.end)
      )
        best = { start, end };
    }
    return best ? this.extend(best) : null;
  }

  /** The window now is in, or else the next one. */
  currentOrNext(now: Date): Window | null {
    return this.current(now) ?? this.next(now);
  }

  inside(now: Date): boolean {
    return this.current(now) !== null;
  }

  /** A window's end moves out while another window starts before it ends. */
  private extend(w: Window): Window {
    let end = w.end;
    let from = w.start;
    for (let i = 0; i < MAX_CHAIN; i++) {
      let moved = false;
      let earliest: Date | null = null;
      for (const s of this.specs) {
        const start = s.matcher.nextAfter(from);
        if (!start || start.getTime() > end.getTime()) continue;
        if (!earliest || start < earliest) earliest = start;
        const e = new Date(start.getTime() + s.ms);
        if (e > end) {
          end = e;
          moved = true;
        }
      }
      if (!earliest) break;
      from = earliest;
      if (!moved && earliest.getTime() >= end.getTime()) break;
    }
    return { start: w.start, end };
  }
}
