// The change filter as it was before its per-tag state moved into arrays (a Map of { value, bad }
// per tag, a new record per report), plus the gateway's former NaN/Infinity → bad step and its
// live view (every read merged into per-PLC records). The property test holds the array-based
// filter to exactly these reports and this view.
import type { TagConfig } from '../../plc/config/schema.js';
import type { TagValue } from '../../plc/codec/codec.js';

const DEADBAND_TOLERANCE = 1e-12;

export interface ReferenceReport {
  values: Record<string, TagValue>;
  quality: Record<string, 'bad'>;
  full: boolean;
}

export class ReferenceFilter {
  private readonly deadbands = new Map<string, number>();
  private readonly reported = new Map<string, { value?: TagValue; bad: boolean }>();
  private lastFullMs: number | undefined;
  /** The former live view: Object.assign of every read's values, quality bad while the last read failed. */
  readonly viewValues: Record<string, TagValue> = {};
  readonly viewQuality: Record<string, 'bad'> = {};

  constructor(
    tags: readonly TagConfig[],
    private readonly fullReportMs: number,
  ) {
    for (const t of tags) this.deadbands.set(t.name, t.deadband);
  }

  reset(): void {
    this.lastFullMs = undefined;
    this.reported.clear();
  }

  /** apply() followed by the gateway's NaN/Infinity → bad. */
  apply(
    read: { values: Record<string, TagValue>; errors: Record<string, string> },
    nowMs: number,
  ): ReferenceReport | undefined {
    Object.assign(this.viewValues, read.values);
    for (const tag of Object.keys(read.values)) delete this.viewQuality[tag];
    for (const tag of Object.keys(read.errors)) this.viewQuality[tag] = 'bad';
    const report = this.filter(read, nowMs);
    if (!report) return undefined;
    let { values, quality } = report;
    for (const tag in values) {
      const v = values[tag];
      if (typeof v !== 'number' || Number.isFinite(v)) continue;
      if (values === report.values) {
        values = { ...values };
        quality = { ...quality };
      }
      delete values[tag];
      quality[tag] = 'bad';
    }
    return { values, quality, full: report.full };
  }

  private filter(
    read: { values: Record<string, TagValue>; errors: Record<string, string> },
    nowMs: number,
  ): ReferenceReport | undefined {
    const full =
      this.lastFullMs === undefined ||
      (this.fullReportMs > 0 && nowMs - this.lastFullMs >= this.fullReportMs);
    const values: Record<string, TagValue> = {};
    const quality: Record<string, 'bad'> = {};
    let any = false;
    for (const name of Object.keys(read.errors)) {
      const prev = this.reported.get(name);
      if (full || !prev?.bad) {
        quality[name] = 'bad';
        any = true;
      }
      this.reported.set(name, { value: prev?.value, bad: true });
    }
    for (const [name, value] of Object.entries(read.values)) {
      if (Object.hasOwn(read.errors, name)) continue;
      const prev = this.reported.get(name);
      if (full || !prev || prev.bad || this.changed(name, prev.value, value)) {
        values[name] = value;
        this.reported.set(name, { value, bad: false });
        any = true;
      }
    }
    if (full) this.lastFullMs = nowMs;
    return any ? { values, quality, full } : undefined;
  }

  private changed(name: string, before: TagValue | undefined, now: TagValue): boolean {
    if (typeof before === 'number' && typeof now === 'number') {
      if (before === now || (Number.isNaN(before) && Number.isNaN(now))) return false;
      const deadband = this.deadbands.get(name) ?? 0;
      if (deadband === 0 || Number.isNaN(before) || Number.isNaN(now)) return true;
      const d = Math.abs(now - before);
      if (!Number.isFinite(d)) return true;
      const tolerance = Math.max(Math.abs(before), Math.abs(now), deadband) * DEADBAND_TOLERANCE;
      return d - deadband > tolerance;
    }
    return before !== now;
  }
}
