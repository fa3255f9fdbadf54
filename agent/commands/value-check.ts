// Is this write allowed, and will it encode? Tag known and writable here; type, range, min/max and overlap
// by the planner's own checkWrites, the very check the poller's write runs again: acked means plannable.
import type { PlcConfig, TagConfig } from '../../plc/config/schema.js';
import { isCodecError } from '../../plc/codec/codec.js';
import { checkWrites } from '../../plc/planner/plan-writes.js';
import { RejectedError } from './rejection.js';

export function tagIndex(plc: PlcConfig): Map<string, TagConfig> {
  const m = new Map<string, TagConfig>();
  for (const g of plc.groups) for (const t of g.tags) m.set(t.name, t);
  return m;
}

/** The planner's one write validation; its typed errors become rejection reasons. */
function checkPlannable(entries: { tag: TagConfig; value: unknown }[]): void {
  try {
    checkWrites(entries);
  } catch (e) {
    if (!isCodecError(e)) throw e;
    const detail = e.message.replace(/^tag "[^"]*": /, '');
    if (e.kind === 'range' || e.kind === 'limit')
      throw new RejectedError('out-of-range', e.tag, detail);
    if (e.kind === 'not-writable') throw new RejectedError('not-writable', e.tag, detail);
    if (e.kind === 'overlap') throw new RejectedError('overlap', e.tag, detail);
    throw new RejectedError('bad-value', e.tag, detail);
  }
}

/** Throws RejectedError (unknown-tag, not-writable, bad-value, out-of-range, overlap) for the first bad entry. */
export function checkWrite(plc: PlcConfig, values: Record<string, unknown>): void {
  const tags = tagIndex(plc);
  const entries: { tag: TagConfig; value: unknown }[] = [];
  for (const [name, v] of Object.entries(values)) {
    const tag = tags.get(name);
    if (!tag) throw new RejectedError('unknown-tag', name, `PLC ${plc.id} has no tag ${name}`);
    if (!tag.writable)
      throw new RejectedError('not-writable', name, 'the tag is not writable: true in the config');
    entries.push({ tag, value: v });
  }
  checkPlannable(entries);
}

/** Throws RejectedError(unknown-tag). */
export function checkRead(plc: PlcConfig, names: string[]): void {
  const tags = tagIndex(plc);
  for (const name of names)
    if (!tags.has(name))
      throw new RejectedError('unknown-tag', name, `PLC ${plc.id} has no tag ${name}`);
}
