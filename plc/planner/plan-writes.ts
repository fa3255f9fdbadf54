// Write planning: commanded values → the fewest Modbus writes that touch only the commanded registers.
import type { TagConfig } from '../config/schema.js';
import { CodecError, encodeBool, encodeRegisters } from '../codec/codec.js';
import { spanOf } from './plan-reads.js';

export type WriteOp =
  | { kind: 'registers'; start: number; values: number[] } // FC16, ≤ 123 registers, only contiguous
  | { kind: 'coils'; start: number; values: boolean[] } // FC15 (≤ 1968) or FC5 when one coil
  | { kind: 'bit'; address: number; bit: number; value: boolean; tag: string }; // read-modify-write of one holding bit

/** Modbus protocol caps of one write: FC16 123 registers, FC15 1968 coils. */
export const MODBUS_MAX_WRITE_REGISTERS = 123;
export const MODBUS_MAX_WRITE_COILS = 1968;

interface Run<T> {
  start: number;
  values: T[];
}

/**
 * Encode commanded values with the codec and merge adjacent register writes into one FC16 and
 * adjacent coils into one FC15. Registers between two tags are never filled in: only contiguous
 * tags merge. Ops come in a fixed order — holding registers, then holding bits, then coils
 * (each by address) — so setpoints land before a trigger bit or coil of the same command.
 * Throws CodecError for bad values, values outside the tag's min/max, tags that are not
 * writable, and two tags that would write the same register or coil.
 */
export function planWrites(entries: readonly { tag: TagConfig; value: unknown }[]): WriteOp[] {
  checkWrites(entries);
  const regs: Run<number>[] = [];
  const coils: Run<boolean>[] = [];
  const bitOps: WriteOp[] = [];
  for (const { tag, value } of entries) {
    if (tag.area === 'coil') coils.push({ start: tag.address, values: [encodeBool(tag, value)] });
    else if (tag.type === 'bit')
      bitOps.push({
        kind: 'bit',
        address: tag.address,
        bit: tag.bit ?? 0,
        value: encodeBool(tag, value),
        tag: tag.name,
      });
    else regs.push({ start: tag.address, values: encodeRegisters(tag, value) });
  }
  bitOps.sort((a, b) =>
    a.kind === 'bit' && b.kind === 'bit' ? a.address - b.address || a.bit - b.bit : 0,
  );
  return [
    ...merge(regs, MODBUS_MAX_WRITE_REGISTERS).map((r) => ({ kind: 'registers' as const, ...r })),
    ...bitOps,
    ...merge(coils, MODBUS_MAX_WRITE_COILS).map((r) => ({ kind: 'coils' as const, ...r })),
  ];
}

/**
 * The one validation of a write, used before a command is acknowledged (agent/commands) and again when it
 * is planned here, so both can never disagree: writable, the codec can encode it (type and range first: a
 * limit compared with a wrong-typed value means nothing), inside min/max, no two tags on one register.
 * Throws CodecError (kind not-writable, range, limit, type..., overlap).
 */
export function checkWrites(entries: readonly { tag: TagConfig; value: unknown }[]): void {
  for (const { tag, value } of entries) {
    checkWritable(tag);
    if (tag.area === 'coil' || tag.type === 'bit') encodeBool(tag, value);
    else encodeRegisters(tag, value);
    checkLimits(tag, value);
  }
  checkOverlaps(entries);
}

function checkWritable(tag: TagConfig): void {
  if (tag.area === 'discrete' || tag.area === 'input')
    throw new CodecError(tag.name, 'not-writable', `the ${tag.area} area is read-only`);
  if (!tag.writable)
    throw new CodecError(tag.name, 'not-writable', 'is not writable (writable: false)');
}

function checkLimits(tag: TagConfig, value: unknown): void {
  if (tag.min === undefined && tag.max === undefined) return;
  if (tag.type === 'string' || tag.type === 'bool' || tag.type === 'bit') return; // not numbers
  // 64-bit values may come as decimal strings (JSON numbers stop being exact past 2^53).
  const v =
    typeof value === 'number'
      ? value
      : typeof value === 'string' || typeof value === 'bigint'
        ? Number(value)
        : NaN;
  if (Number.isNaN(v)) return; // the codec reports the wrong type
  if (tag.min !== undefined && v < tag.min)
    throw new CodecError(tag.name, 'limit', `${String(value)} < min ${tag.min}`);
  if (tag.max !== undefined && v > tag.max)
    throw new CodecError(tag.name, 'limit', `${String(value)} > max ${tag.max}`);
}

/** Two commanded tags on the same register/coil would make the result depend on write order. */
function checkOverlaps(entries: readonly { tag: TagConfig }[]): void {
  const sorted = entries
    .map((e) => e.tag)
    .sort(
      (a, b) =>
        a.area.localeCompare(b.area) || a.address - b.address || (a.bit ?? 0) - (b.bit ?? 0),
    );
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.area !== b.area || b.address >= a.address + spanOf(a)) continue;
    if (a.type === 'bit' && b.type === 'bit' && a.bit !== b.bit) continue;
    throw new CodecError(
      b.name,
      'overlap',
      `overlaps tag "${a.name}" (${a.area} ${a.address}) in the same command`,
    );
  }
}

function merge<T>(runs: Run<T>[], cap: number): Run<T>[] {
  runs.sort((a, b) => a.start - b.start);
  const out: Run<T>[] = [];
  for (const r of runs) {
    const last = out[out.length - 1];
    if (
      last &&
      last.start + last.values.length === r.start &&
      last.values.length + r.values.length <= cap
    )
      last.values.push(...r.values);
    else out.push({ start: r.start, values: [...r.values] });
  }
  return out;
}
