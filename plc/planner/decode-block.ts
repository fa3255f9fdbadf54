// Decoding one read block's answer into tag values; the answer is hostile until checked.
import { decodeAt, isCodecError, type TagValue } from '../codec/codec.js';
import { isBitArea, spanOf, type ReadBlock } from './plan-reads.js';

export interface BlockResult {
  values: Record<string, TagValue>;
  errors: Record<string, string>;
}

/**
 * Decode every tag of a block from the words (FC3/4) or bits (FC1/2) the PLC returned.
 * A short or malformed answer gives the affected tags an error instead of a value; the others
 * still decode (a coil answer is padded to a multiple of 8 bits, so longer is fine).
 */
export function decodeBlock(
  block: ReadBlock,
  data: ArrayLike<number> | ArrayLike<boolean>,
): BlockResult {
  const out: BlockResult = { values: {}, errors: {} };
  decodeBlockInto(block, data, out.values, out.errors);
  return out;
}

/**
 * decodeBlock into the caller's objects (a poll cycle decodes all its blocks into one reading, with
 * no object per block and no copy). Returns how many tags got an error.
 */
export function decodeBlockInto(
  block: ReadBlock,
  data: ArrayLike<number> | ArrayLike<boolean>,
  values: Record<string, TagValue>,
  errors: Record<string, string>,
): number {
  let bad = 0;
  const bits = isBitArea(block.area);
  const unit = bits ? 'bits' : 'registers';
  const got = data && typeof data.length === 'number' ? data.length : 0;
  for (const tag of block.tags) {
    const at = tag.address - block.start;
    const need = at + spanOf(tag);
    if (got < need) {
      errors[tag.name] = `short answer: ${got} of ${block.count} ${unit} (needs ${need})`;
      bad++;
      continue;
    }
    if (bits) {
      const b = (data as ArrayLike<unknown>)[at];
      if (b === true || b === 1) values[tag.name] = true;
      else if (b === false || b === 0) values[tag.name] = false;
      else {
        errors[tag.name] = `malformed answer: bit ${at} is not a boolean`;
        bad++;
      }
      continue;
    }
    try {
      values[tag.name] = decodeAt(tag, data as ArrayLike<number>, at);
    } catch (e) {
      if (!isCodecError(e)) throw e;
      errors[tag.name] = `malformed answer: ${e.message}`;
      bad++;
    }
  }
  return bad;
}
