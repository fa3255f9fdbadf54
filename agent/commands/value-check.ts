// Is this write allowed, and will it encode? Tag known, writable, right type, inside min/max; then the codec
// encodes it for real (every type and byte order) so nothing that cannot be written is ever queued.
import type { PlcConfig, TagConfig } from '../../plc/config/schema.js';
import { applyBit, encodeBool, encodeRegisters, isCodecError } from '../../plc/codec/codec.js';
import { RejectedError } from './rejection.js';

export function tagIndex(plc: PlcConfig): Map<string, TagConfig> {
  const m = new Map<string, TagConfig>();
  for (const g of plc.groups) for (const t of g.tags) m.set(t.name, t);
  return m;
}

function checkLimits(tag: TagConfig, v: unknown): void {
  // 64-bit values may come as decimal strings (JSON numbers stop being exact past 2^53).
  const n = typeof v === 'string' && tag.type !== 'string' ? Number(v) : v;
  if (typeof n !== 'number' || Number.isNaN(n)) return;
  if (tag.min !== undefined && n < tag.min)
    throw new RejectedError('out-of-range', tag.name, `${String(v)} < min ${tag.min}`);
  if (tag.max !== undefined && n > tag.max)
    throw new RejectedError('out-of-range', tag.name, `${String(v)} > max ${tag.max}`);
}

/** Encode with the codec; its typed errors become rejection reasons. */
function checkEncodes(tag: TagConfig, v: unknown): void {
  try {
    if (tag.type === 'bool') encodeBool(tag, v);
    else if (tag.type === 'bit') applyBit(tag, 0, v);
    else encodeRegisters(tag, v);
  } catch (e) {
    if (!isCodecError(e)) throw e;
    const detail = e.message.replace(/^tag "[^"]*": /, '');
    if (e.kind === 'range' || e.kind === 'limit')
      throw new RejectedError('out-of-range', tag.name, detail);
    if (e.kind === 'not-writable') throw new RejectedError('not-writable', tag.name, detail);
    throw new RejectedError('bad-value', tag.name, detail);
  }
}

/** Throws RejectedError (unknown-tag, not-writable, bad-value, out-of-range) for the first bad entry. */
export function checkWrite(plc: PlcConfig, values: Record<string, unknown>): void {
  const tags = tagIndex(plc);
  for (const [name, v] of Object.entries(values)) {
    const tag = tags.get(name);
    if (!tag) throw new RejectedError('unknown-tag', name, `PLC ${plc.id} has no tag ${name}`);
    if (!tag.writable)
      throw new RejectedError('not-writable', name, 'the tag is not writable: true in the config');
    checkEncodes(tag, v); // type first: a limit compared with a wrong-typed value means nothing
    checkLimits(tag, v);
  }
}

/** Throws RejectedError(unknown-tag). */
export function checkRead(plc: PlcConfig, names: string[]): void {
  const tags = tagIndex(plc);
  for (const name of names)
    if (!tags.has(name))
      throw new RejectedError('unknown-tag', name, `PLC ${plc.id} has no tag ${name}`);
}
