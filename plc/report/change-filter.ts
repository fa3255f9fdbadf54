// Report by exception: decides which tag values of a poll group's read are published now.
import type { TagConfig } from '../config/schema.js';
import type { TagValue } from '../codec/codec.js';
import { TagSlots, SEEN, BAD, NUM } from './tag-slots.js';

export interface FilteredReport {
  /**
   * The values to publish. When every value of the read is published as read (the first read, a
   * full report, or every value moved) this is the read's own `values` object, not a copy: neither
   * the filter's caller nor anyone it hands the report to may change it.
   */
  values: Record<string, TagValue>;
  quality: Record<string, 'bad'>;
  /** Every tag of the read is in it (first read, after reset(), or the periodic full report). */
  full: boolean;
}

export interface ChangeFilterOptions {
  /** Report every tag this often even when unchanged; 0 = never. */
  fullReportMs: number;
  /**
   * Publish a NaN or ±Infinity that is to be reported as quality bad instead of the value (JSON has
   * no such numbers). The reference still becomes that value, so it is reported once, not on every read.
   */
  nonFiniteAsBad?: boolean;
}

/** What apply() reads of a reading (a PlcReading fits). */
export interface GroupRead {
  values: Record<string, TagValue>;
  errors: Record<string, string>;
}

/** A value as JSON.stringify writes it inside an object; undefined: JSON leaves the key out. */
function jsonValue(v: TagValue): string | undefined {
  // A finite number's JSON text is its toString(); NaN and ±Infinity are null in JSON.
  if (typeof v === 'number') return v - v === 0 ? '' + v : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v) as string | undefined; // strings escaped; anything else as JSON would
}

/** Relative tolerance for the deadband comparison: float artefacts such as 12.8 - 12.3 must not count as a change. */
const DEADBAND_TOLERANCE = 1e-12;

/**
 * The reference of a tag is the last value *reported*, not the last read, so a slow drift is
 * reported once it adds up to more than the deadband. NaN equals NaN. A failed read is reported
 * once as quality bad, and the value again as soon as it reads good.
 *
 * Per-tag state lives in arrays aligned with the group's tags (TagSlots): this runs for every value
 * of every read, so nothing is allocated per value and nothing is looked up by name while the read
 * lists its tags in the same order as the read before. The same pass keeps the last value read of
 * every tag and whether its last read failed (latest()), which is what the live view shows.
 */
export class ChangeFilter {
  private readonly slots: TagSlots;
  private lastFullMs: number | undefined;
  private readonly fullReportMs: number;
  private readonly nonFiniteAsBad: boolean;
  /** Values taken by the last apply() (good or shadowed by an error): what a caller counts as read, without a pass of its own. */
  lastValueCount = 0;
  /**
   * The `values` of the report apply() last returned, as JSON text: exactly what JSON.stringify gives
   * (same keys, order and number text), rendered in the filter's pass so the message serialiser does
   * not walk the record again. Kept beside the report, not in it, so a report stays plain data.
   */
  lastValuesJson = '{}';

  constructor(tags: readonly TagConfig[], opts: ChangeFilterOptions) {
    this.slots = new TagSlots(tags);
    this.fullReportMs = opts.fullReportMs > 0 ? opts.fullReportMs : 0;
    this.nonFiniteAsBad = opts.nonFiniteAsBad === true;
  }

  /** One poll group's read result. Returns what to publish now, or undefined when nothing changed. */
  apply(read: GroupRead, nowMs: number): FilteredReport | undefined {
    const full =
      this.lastFullMs === undefined ||
      (this.fullReportMs > 0 && nowMs - this.lastFullMs >= this.fullReportMs);
    let quality: Record<string, 'bad'> | undefined;
    const s = this.slots;
    const errs = read.errors;
    let errorCount = 0;
    for (const name in errs) {
      errorCount++;
      const i = s.slotOf(name);
      const f = s.flags[i]!;
      if (full || (f & BAD) === 0) (quality ??= {})[name] = 'bad';
      s.flags[i] = f | SEEN | BAD;
      s.latestBad[i] = 1;
    }
    const vals = read.values;
    // `out` stays undefined while every value so far is published as read: the read's own object
    // is then the report's (the common case when values move, and every full report).
    let out: Record<string, TagValue> | undefined;
    let reported = 0;
    let pos = 0;
    let json = '';
    for (const name in vals) {
      let i = s.order[pos]!;
      if (s.names[i] !== name) {
        i = s.slotOf(name); // a name not configured gets a slot (the arrays grow)
        s.order[pos] = i;
      }
      pos++;
      let publish: boolean;
      const value = vals[name]!;
      if (errorCount > 0 && Object.hasOwn(errs, name)) {
        s.latest[i] = value; // the live view keeps it, shown bad; the report does not
        publish = false; // an error wins over a value
      } else {
        s.latest[i] = value;
        s.latestBad[i] = 0;
        const f = s.flags[i]!;
        if (full || (f & (SEEN | BAD)) !== SEEN || this.changed(s, i, f, value)) {
          if (typeof value === 'number') {
            s.num[i] = value;
            if ((f & (SEEN | NUM)) === SEEN) s.other[i] = undefined;
            s.flags[i] = SEEN | NUM;
          } else {
            s.other[i] = value;
            s.flags[i] = SEEN;
          }
          reported++;
          publish = true;
          if (this.nonFiniteAsBad && typeof value === 'number' && value - value !== 0) {
            (quality ??= {})[name] = 'bad';
            publish = false;
          }
        } else publish = false;
      }
      if (publish) {
        if (out !== undefined) out[name] = value;
        const text = jsonValue(value);
        // One string and two concatenations per value: the key carries its comma, cut off once.
        if (text !== undefined)
          json = json === '' ? s.keyJson(i).slice(1) + text : json + s.keyJson(i) + text;
      } else if (out === undefined) out = this.copyHead(s, vals, pos - 1);
    }
    this.lastValueCount = pos;
    if (full) this.lastFullMs = nowMs;
    if (reported === 0 && quality === undefined) return undefined;
    const text = '{' + json + '}';
    // Made flat now (reading a character makes V8 flatten a concatenated string): the text lives
    // until the outbox's group commit writes it, and a tree of two strings per value that survives
    // a young-generation GC is copied string by string; one flat string is one object.
    text.charCodeAt(0);
    this.lastValuesJson = text;
    return { values: out ?? vals, quality: quality ?? {}, full };
  }

  /** The values of the first `count` positions of this read, all of them published: into a new record. */
  private copyHead(
    s: TagSlots,
    vals: Record<string, TagValue>,
    count: number,
  ): Record<string, TagValue> {
    const out: Record<string, TagValue> = {};
    for (let k = 0; k < count; k++) {
      const name = s.names[s.order[k]!]!;
      out[name] = vals[name]!;
    }
    return out;
  }

  /** Force the next apply() to report everything (after a reconnect, a config change, a restart). */
  reset(): void {
    this.lastFullMs = undefined;
    this.slots.forgetReported();
  }

  /**
   * The last value read of every tag of the group that was ever read (kept while the tag reads
   * bad), and the tags whose last read failed, into the records given (tag order of the config).
   * Not touched by reset(): it is what was read, not what was reported.
   */
  latest(values: Record<string, TagValue>, quality: Record<string, 'bad'>): void {
    this.slots.latestInto(values, quality);
  }

  /** Take over the last values read from the filters this one replaces (a config change), by name. */
  adoptLatest(from: readonly ChangeFilter[]): void {
    for (const f of from) this.slots.adoptLatest(f.slots);
  }

  private changed(s: TagSlots, i: number, f: number, now: TagValue): boolean {
    if (typeof now !== 'number') return (f & NUM) !== 0 || s.other[i] !== now;
    if ((f & NUM) === 0) return true;
    const before = s.num[i]!;
    // NaN is the only value not equal to itself: x !== x tests it without a call.
    if (before === now || (before !== before && now !== now)) return false;
    const deadband = s.deadbands === undefined ? 0 : s.deadbands[i]!;
    if (deadband === 0 || before !== before || now !== now) return true;
    const d = Math.abs(now - before);
    if (d === Infinity) return true;
    const tolerance = Math.max(Math.abs(before), Math.abs(now), deadband) * DEADBAND_TOLERANCE;
    return d - deadband > tolerance;
  }
}
