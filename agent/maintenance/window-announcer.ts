// Announces maintenance windows on `maintenance/window` (CONTRACT.md §8): `scheduled`
// announceMinutes before a window, `started` at its start, `ended` at its end. The state is derived
// from the clock at each tick, so a restart inside a window announces `started` again with the right
// end. The last announcement is kept on disk so a window that ended while the agent was down is
// still announced `ended` (the broker would otherwise keep a stale retained `started`).
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomicSync } from '../../platform/atomic-file.js';
import type { Logger } from '../../platform/logger.js';
import type { Window, WindowClock } from './window-clock.js';

export type WindowState = 'scheduled' | 'started' | 'ended';

export interface WindowPayload {
  state: WindowState;
  start: string;
  end: string;
  jobs: string[];
  ts: string;
}

export interface WindowAnnouncerOptions {
  clock: WindowClock;
  announceMinutes: number;
  /** Where the last announcement is kept (crash-safe file). */
  statePath: string;
  publish: (p: WindowPayload) => void;
  /** The jobs that will run in this window. */
  jobs: (w: Window) => string[];
  /** A window opened (also when a restart finds one open). */
  onStarted?: ((w: Window) => void) | undefined;
  logger?: Logger | undefined;
  now?: () => Date;
}

/** Longest single timer: the tick re-evaluates at least this often (clock changes, long timers). */
const MAX_TICK_MS = 60 * 60_000;
/** Timers may fire a hair early against Date.now(); aim just past the instant. */
const TICK_SLACK_MS = 5;

export class WindowAnnouncer {
  private timer: NodeJS.Timeout | undefined;
  private last: { state: WindowState; start: string; end: string } | undefined;
  private lastPayload: WindowPayload | undefined;
  private readonly now: () => Date;
  private fresh = true;

  constructor(private readonly o: WindowAnnouncerOptions) {
    this.now = o.now ?? (() => new Date());
    this.last = readLast(o.statePath);
  }

  start(): void {
    this.tick();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The dashboard's view: the window now open, else the next one (as `scheduled`). */
  view(): WindowPayload | null {
    const now = this.now();
    const cur = this.o.clock.current(now);
    if (cur) return this.payload('started', cur, now);
    const next = this.o.clock.next(now);
    return next ? this.payload('scheduled', next, now) : null;
  }

  /** The last announcement sent (null before the first). */
  announced(): WindowPayload | undefined {
    return this.lastPayload;
  }

  private payload(state: WindowState, w: Window, now: Date): WindowPayload {
    return {
      state,
      start: w.start.toISOString(),
      end: w.end.toISOString(),
      jobs: this.o.jobs(w),
      ts: now.toISOString(),
    };
  }

  private tick(): void {
    this.timer = undefined;
    const now = this.now();
    const { clock } = this.o;
    const announceMs = this.o.announceMinutes * 60_000;
    // A window we announced and that is over: ended (also after a restart past its end).
    if (this.last && this.last.state !== 'ended' && Date.parse(this.last.end) <= now.getTime()) {
      const w = { start: new Date(this.last.start), end: new Date(this.last.end) };
      this.announce('ended', w, now);
    }
    const cur = clock.current(now);
    if (cur) {
      if (!this.is('started', cur)) {
        this.announce('started', cur, now);
        this.o.onStarted?.(cur);
      }
    }
    const next = cur ? null : clock.next(now);
    if (next && next.start.getTime() - announceMs <= now.getTime() && !this.is('scheduled', next))
      this.announce('scheduled', next, now);
    // Next instant something changes: this window's end, the next one's announcement or start.
    const times = cur
      ? [cur.end.getTime()]
      : next
        ? [next.start.getTime() - announceMs, next.start.getTime()]
        : [];
    const due = times.filter((t) => t > now.getTime());
    const wait = Math.min(MAX_TICK_MS, ...due.map((t) => t - now.getTime() + TICK_SLACK_MS));
    this.fresh = false;
    this.timer = setTimeout(() => this.tick(), Math.max(TICK_SLACK_MS, wait));
    this.timer.unref();
  }

  private is(state: WindowState, w: Window): boolean {
    // A new process announces again what holds now (its retained state starts empty).
    if (this.fresh) return false;
    return (
      this.last?.state === state &&
      this.last.start === w.start.toISOString() &&
      this.last.end === w.end.toISOString()
    );
  }

  private announce(state: WindowState, w: Window, now: Date): void {
    const p = this.payload(state, w, now);
    this.last = { state, start: p.start, end: p.end };
    this.lastPayload = p;
    try {
      mkdirSync(dirname(this.o.statePath), { recursive: true });
      writeFileAtomicSync(this.o.statePath, JSON.stringify(this.last));
    } catch (e) {
      this.o.logger?.warn({ err: (e as Error).message }, 'maintenance window state not kept');
    }
    this.o.logger?.info({ state, start: p.start, end: p.end, jobs: p.jobs }, 'maintenance window');
    this.o.publish(p);
  }
}

function readLast(path: string): { state: WindowState; start: string; end: string } | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    if (
      (v.state === 'scheduled' || v.state === 'started' || v.state === 'ended') &&
      typeof v.start === 'string' &&
      typeof v.end === 'string'
    )
      return { state: v.state, start: v.start, end: v.end };
  } catch {
    /* none yet, or unreadable: start fresh */
  }
  return undefined;
}
