// Per-tag state of one poll group by index, in arrays aligned with the group's tags: what the change
// filter reported last, and what was read last. A Map of small objects per tag costs about 100 B a
// tag and a hash lookup per value; these arrays cost ~20 B a tag and are indexed.
import type { TagConfig } from '../config/schema.js';
import type { TagValue } from '../codec/codec.js';

/** flags: the tag has a reported state (a value, or bad from the start). */
export const SEEN = 1;
/** flags: the last report of the tag was quality bad. */
export const BAD = 2;
/** flags: the reported value is a number, in `num` (otherwise it is in `other`). */
export const NUM = 4;

export class TagSlots {
  /** Tag names by index: the group's tags in config order, then any name a read brought that is not configured. */
  readonly names: string[];
  private readonly index = new Map<string, number>();
  /** Position of a name in the read's own order → its index; learnt, so a read in the same order needs no lookups. */
  order: Int32Array;
  flags: Uint8Array;
  /** Last reported value of a tag whose reported value is a number. */
  num: Float64Array;
  /**
   * Last reported value when it is not a number: strings (also int64/uint64 beyond 2^53, kept as exact
   * decimal strings by the codec), booleans, or anything else a read may carry (a bigint compares
   * exactly here too). Numbers never go here, so this array holds nothing for numeric groups.
   */
  other: (TagValue | undefined)[];
  /** Only when some tag has a non-zero deadband. */
  deadbands: Float64Array | undefined;
  /** Last value read (kept while the tag reads bad); undefined until the first good read. */
  latest: (TagValue | undefined)[];
  /** 1 while the tag's last read failed. */
  latestBad: Uint8Array;
  /** `,"name":` per slot, made on first use (JSON.stringify escapes a name a read brought). */
  private readonly keys: (string | undefined)[];

  constructor(tags: readonly TagConfig[]) {
    const n = tags.length;
    this.names = tags.map((t) => t.name);
    for (let i = 0; i < n; i++) this.index.set(this.names[i]!, i);
    this.order = new Int32Array(n);
    this.flags = new Uint8Array(n);
    this.num = new Float64Array(n);
    // Filled with undefined, not holey: stores of any value then keep one elements kind.
    this.other = new Array<TagValue | undefined>(n).fill(undefined);
    this.latest = new Array<TagValue | undefined>(n).fill(undefined);
    this.latestBad = new Uint8Array(n);
    this.keys = new Array<string | undefined>(n).fill(undefined);
    if (tags.some((t) => t.deadband !== 0)) {
      this.deadbands = new Float64Array(n);
      for (let i = 0; i < n; i++) this.deadbands[i] = tags[i]!.deadband;
    }
  }

  /** Index of a name; a name the config does not have gets a slot of its own (deadband 0). */
  slotOf(name: string): number {
    const i = this.index.get(name);
    return i ?? this.add(name);
  }

  keyJson(i: number): string {
    return (this.keys[i] ??= ',' + JSON.stringify(this.names[i]) + ':');
  }

  indexOf(name: string): number | undefined {
    return this.index.get(name);
  }

  /** After reset(): no tag has a reported state; the last values read stay. */
  forgetReported(): void {
    this.flags.fill(0);
    this.other.fill(undefined);
  }

  latestInto(values: Record<string, TagValue>, quality: Record<string, 'bad'>): void {
    const n = this.names.length;
    for (let i = 0; i < n; i++) {
      const v = this.latest[i];
      if (v !== undefined) values[this.names[i]!] = v;
      if (this.latestBad[i] === 1) quality[this.names[i]!] = 'bad';
    }
  }

  /** Copy the last values read, by name, from the slots of a group this one replaces. */
  adoptLatest(from: TagSlots): void {
    const n = from.names.length;
    for (let k = 0; k < n; k++) {
      const i = this.index.get(from.names[k]!);
      if (i === undefined) continue;
      if (from.latest[k] !== undefined) this.latest[i] = from.latest[k];
      if (from.latestBad[k] === 1) this.latestBad[i] = 1;
    }
  }

  private add(name: string): number {
    const i = this.names.length;
    this.names.push(name);
    this.index.set(name, i);
    this.other.push(undefined);
    this.latest.push(undefined);
    this.keys.push(undefined);
    if (i >= this.flags.length) {
      const cap = Math.max(8, i * 2);
      this.order = grow(this.order, new Int32Array(cap));
      this.flags = grow(this.flags, new Uint8Array(cap));
      this.num = grow(this.num, new Float64Array(cap));
      this.latestBad = grow(this.latestBad, new Uint8Array(cap));
      if (this.deadbands) this.deadbands = grow(this.deadbands, new Float64Array(cap));
    }
    return i;
  }
}

function grow<T extends Int32Array | Uint8Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
