// Read planning: merge the tags of one PLC (one unit id) into the fewest Modbus reads per area.
import { AREAS, tagWidth, type Area, type TagConfig } from '../config/schema.js';
import { PlanError } from './plan-error.js';

export interface ReadBlock {
  area: Area;
  start: number;
  count: number;
  tags: TagConfig[];
}

export interface ReadLimits {
  /** Registers of unused gap a read may bridge to save a request (×16 bits for coil/discrete). */
  maxGap: number;
  /** Cap of one FC3/FC4 read, ≤ 125. */
  maxRegisters: number;
  /** Cap of one FC1/FC2 read, ≤ 2000. */
  maxBits: number;
}

/** Modbus protocol caps (FC3/FC4: 125 registers, FC1/FC2: 2000 bits). */
export const MODBUS_MAX_READ_REGISTERS = 125;
export const MODBUS_MAX_READ_BITS = 2000;
const LAST_ADDRESS = 65535;

export function isBitArea(area: Area): boolean {
  return area === 'coil' || area === 'discrete';
}

/** Registers (holding/input) or bits (coil/discrete) the tag occupies. */
export function spanOf(tag: TagConfig): number {
  return isBitArea(tag.area) ? 1 : tagWidth(tag);
}

/**
 * Sort by (area, address); tags that overlap (several bits of one register, a word inside a
 * string) form a cluster that is read as one piece. Then walk the clusters greedily: a cluster
 * joins the open block when the block stays within its cap and the unread gap before it is at most
 * maxGap; otherwise it opens the next block. Greedy is optimal here: clusters are disjoint, so
 * taking as many as fit into each block never makes a later block need more requests.
 * A tag is never split across two blocks; blocks of an area never overlap, except inside a cluster
 * of overlapping tags that is itself wider than one read (it is split tag by tag).
 */
export function planReads(tags: readonly TagConfig[], limits: ReadLimits): ReadBlock[] {
  checkLimits(limits);
  const blocks: ReadBlock[] = [];
  for (const area of AREAS) {
    const bits = isBitArea(area);
    const cap = bits ? limits.maxBits : limits.maxRegisters;
    const gap = bits ? limits.maxGap * 16 : limits.maxGap;
    let open: ReadBlock | undefined;
    for (const cluster of clusters(tags, area, cap)) {
      const end = cluster.start + cluster.count;
      if (cluster.count > cap) {
        const pieces = splitCluster(cluster, cap);
        blocks.push(...pieces);
        open = pieces[pieces.length - 1]; // what follows the chain may still join its last piece
        continue;
      }
      if (open && cluster.start - (open.start + open.count) <= gap && end - open.start <= cap) {
        open.count = end - open.start;
        open.tags.push(...cluster.tags);
        continue;
      }
      open = cluster;
      blocks.push(open);
    }
  }
  return blocks;
}

/** Tags of one area sorted by address, grouped into runs of overlapping tags. */
function clusters(tags: readonly TagConfig[], area: Area, cap: number): ReadBlock[] {
  const sorted = tags.filter((t) => t.area === area).sort((a, b) => a.address - b.address);
  const out: ReadBlock[] = [];
  let current: ReadBlock | undefined;
  for (const tag of sorted) {
    const span = spanOf(tag);
    const end = tag.address + span; // exclusive
    if (!Number.isInteger(tag.address) || tag.address < 0 || end - 1 > LAST_ADDRESS)
      throw new PlanError(
        tag.name,
        `address ${tag.address}..${end - 1} is outside 0..${LAST_ADDRESS}`,
      );
    if (span > cap)
      throw new PlanError(
        tag.name,
        `${span} ${isBitArea(area) ? 'bits' : 'registers'} do not fit in one read of at most ${cap}`,
      );
    if (current && tag.address < current.start + current.count) {
      current.count = Math.max(current.count, end - current.start);
      current.tags.push(tag);
    } else {
      current = { area, start: tag.address, count: span, tags: [tag] };
      out.push(current);
    }
  }
  return out;
}

/** A chain of overlapping tags wider than one read: each piece as wide as fits, pieces may overlap. */
function splitCluster(cluster: ReadBlock, cap: number): ReadBlock[] {
  const out: ReadBlock[] = [];
  let piece: ReadBlock | undefined;
  for (const tag of cluster.tags) {
    const end = tag.address + spanOf(tag);
    if (piece && end - piece.start <= cap) {
      piece.count = Math.max(piece.count, end - piece.start);
      piece.tags.push(tag);
    } else {
      piece = { area: cluster.area, start: tag.address, count: spanOf(tag), tags: [tag] };
      out.push(piece);
    }
  }
  return out;
}

function checkLimits(l: ReadLimits): void {
  const ok = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
  if (!ok(l.maxRegisters, 1, MODBUS_MAX_READ_REGISTERS))
    throw new PlanError(
      undefined,
      `maxRegisters must be 1..${MODBUS_MAX_READ_REGISTERS} (got ${l.maxRegisters})`,
    );
  if (!ok(l.maxBits, 1, MODBUS_MAX_READ_BITS))
    throw new PlanError(undefined, `maxBits must be 1..${MODBUS_MAX_READ_BITS} (got ${l.maxBits})`);
  if (!ok(l.maxGap, 0, LAST_ADDRESS))
    throw new PlanError(undefined, `maxGap must be a whole number ≥ 0 (got ${l.maxGap})`);
}
