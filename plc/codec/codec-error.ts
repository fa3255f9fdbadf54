// Typed codec errors: callers branch on isCodecError(e) and `kind`, never on message text.
export type CodecErrorKind =
  | 'type' // wrong JS type for the tag (e.g. a string for an int16)
  | 'range' // outside what the type can hold (after scale/offset)
  | 'non-finite' // NaN/Infinity for an integer type
  | 'length' // string longer than its registers
  | 'charset' // string character that is not printable latin1
  | 'scale' // scale 0 cannot be inverted for writing
  | 'malformed' // registers from the PLC of the wrong count or not 16-bit words
  | 'limit' // outside the tag's configured min/max for commands
  | 'not-writable' // the tag or its area cannot be written
  | 'overlap'; // two commanded tags share a register or coil

export class CodecError extends Error {
  constructor(
    readonly tag: string,
    readonly kind: CodecErrorKind,
    detail: string,
  ) {
    super(`tag "${tag}": ${detail}`);
    this.name = 'CodecError';
  }
}

export function isCodecError(e: unknown): e is CodecError {
  return e instanceof CodecError;
}

/** Short, safe description of a hostile value for an error message. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string')
    return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')
    return `${typeof v} ${String(v)}`;
  if (v === null) return 'null';
  return Array.isArray(v) ? 'an array' : typeof v;
}
