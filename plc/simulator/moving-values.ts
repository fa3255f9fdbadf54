// Moving values: each map entry's generator gives its value at time t; the model is rewritten each tick.
// Values go through the gateway's own codec, so every type and byte order is representable.
import { tagWidth, type TagConfig } from '../config/schema.js';
import { applyBit, encodeRegisters, type TagValue } from '../codec/codec.js';
import type { Generator, MapEntry } from './map.js';
import type { UnitMemory } from './register-model.js';

const INT_MAX: Record<string, number> = {
  int16: 0x7fff,
  uint16: 0xffff,
  int32: 0x7fffffff,
  uint32: 0xffffffff,
  int64: Number.MAX_SAFE_INTEGER,
  uint64: Number.MAX_SAFE_INTEGER,
};

function isIntegerType(t: TagConfig): boolean {
  return t.type in INT_MAX;
}

/** Value of a generator `t` ms after the simulator started (random: stable within its period). */
export function generate(
  tag: TagConfig,
  gen: Generator,
  t: number,
  seed: { bucket: number; value: TagValue },
): TagValue {
  const intish = isIntegerType(tag) && tag.scale === 1;
  switch (gen.kind) {
    case 'value':
      return gen.value;
    case 'counter': {
      const n = Math.floor(t / gen.everyMs);
      const max = gen.max ?? (intish ? INT_MAX[tag.type]! : undefined);
      if (max === undefined || gen.step <= 0) return gen.start + gen.step * n;
      const k = Math.floor((max - gen.start) / gen.step) + 1; // values in one cycle
      return k > 0 ? gen.start + gen.step * (n % k) : gen.start;
    }
    case 'sine': {
      const v = gen.offset + gen.amplitude * Math.sin((2 * Math.PI * t) / gen.periodMs);
      return intish ? Math.round(v) : v;
    }
    case 'toggle':
      return Math.floor(t / gen.everyMs) % 2 === 1;
    case 'random': {
      const bucket = Math.floor(t / gen.everyMs);
      if (bucket === seed.bucket) return seed.value;
      seed.bucket = bucket;
      if (tag.type === 'bool' || tag.type === 'bit') seed.value = Math.random() < 0.5;
      else {
        const v = gen.min + Math.random() * (gen.max - gen.min);
        seed.value = gen.integer || intish ? Math.round(v) : v;
      }
      return seed.value;
    }
  }
}

/** Write one tag value into a unit's memory exactly as a PLC would hold it. Throws CodecError. */
export function storeValue(mem: UnitMemory, tag: TagConfig, value: unknown): void {
  if (tag.area === 'coil' || tag.area === 'discrete') {
    mem[tag.area][tag.address] = value === true || value === 1 ? 1 : 0;
    return;
  }
  const regs = mem[tag.area];
  if (tag.type === 'bit') {
    regs[tag.address] = applyBit(tag, regs[tag.address]!, value);
    return;
  }
  const words = encodeRegisters(tag, value);
  for (let i = 0; i < words.length; i++) regs[tag.address + i] = words[i]!;
}

/** Does a client write of [address, address+count) touch this entry? */
export function overlaps(e: MapEntry, address: number, count: number): boolean {
  const width = e.tag.area === 'coil' || e.tag.area === 'discrete' ? 1 : tagWidth(e.tag);
  return address < e.tag.address + width && e.tag.address < address + count;
}
