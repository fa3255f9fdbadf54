// Report by exception: decides which tag values of a poll group's read are published now.
import type { TagConfig } from '../config/schema.js';
import type { TagValue } from '../codec/codec.js';

export interface FilteredReport {
  values: Record<string, TagValue>;
  quality: Record<string, 'bad'>;
  /** Every tag of the read is in it (first read, after reset(), or the periodic full report). */
  full: boolean;
}

export interface ChangeFilterOptions {
  /** Report every tag this often even when unchanged; 0 = never. */
  fullReportMs: number;
}

/** Relative tolerance for the deadband comparison: float artefacts such as 12.8 - 12.3 must not count as a change. */
const DEADBAND_TOLERANCE = 1e-12;

interface Reported {
  value?: TagValue;
  bad: boolean;
}

/**
 * The reference of a tag is the last value *reported*, not the last read, so a slow drift is
 * reported once it adds up to more than the deadband. NaN equals NaN. A failed read is reported
 * once as quality bad, and the value again as soon as it reads good.
 */
export class ChangeFilter {
  private readonly deadbands = new Map<string, number>();
  private readonly reported = new Map<string, Reported>();
  private lastFullMs: number | undefined;
  private readonly fullReportMs: number;

  constructor(tags: readonly TagConfig[], opts: ChangeFilterOptions) {
    for (const t of tags) this.deadbands.set(t.name, t.deadband);
    this.fullReportMs = opts.fullReportMs > 0 ? opts.fullReportMs : 0;
  }

  /** One poll group's read result. Returns what to publish now, or undefined when nothing changed. */
  apply(
    read: { values: Record<string, TagValue>; errors: Record<string, string> },
    nowMs: number,
  ): FilteredReport | undefined {
    const full =
      this.lastFullMs === undefined ||
      (this.fullReportMs > 0 && nowMs - this.lastFullMs >= this.fullReportMs);
    const values: Record<string, TagValue> = {};
    const quality: Record<string, 'bad'> = {};
    let any = false;
    let errorCount = 0;
    // Runs for every value of every read: no per-value arrays or objects once a tag has been seen
    // (its Reported entry is updated in place), for...in instead of Object.entries.
    for (const name in read.errors) {
      errorCount++;
      const prev = this.reported.get(name);
      if (full || !prev?.bad) {
        quality[name] = 'bad';
        any = true;
      }
      if (prev) prev.bad = true;
      else this.reported.set(name, { value: undefined, bad: true });
    }
    const readValues = read.values;
    for (const name in readValues) {
      if (errorCount > 0 && Object.hasOwn(read.errors, name)) continue; // an error wins over a value
      const value = readValues[name]!;
      const prev = this.reported.get(name);
      if (full || !prev || prev.bad || this.changed(name, prev.value, value)) {
        values[name] = value;
        if (prev) {
          prev.value = value;
          prev.bad = false;
        } else this.reported.set(name, { value, bad: false });
        any = true;
      }
    }
    if (full) this.lastFullMs = nowMs;
    return any ? { values, quality, full } : undefined;
  }

  /** Force the next apply() to report everything (after a reconnect, a config change, a restart). */
  reset(): void {
    this.lastFullMs = undefined;
    this.reported.clear();
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
