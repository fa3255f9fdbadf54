// Typed command errors of a poller (the Modbus ones are in plc/driver/errors.ts, codec ones in plc/codec).
export class UnknownTagError extends Error {
  readonly code = 'unknown-tag';
  constructor(
    readonly plc: string,
    readonly tag: string,
  ) {
    super(`PLC "${plc}" has no tag "${tag}"`);
    this.name = 'UnknownTagError';
  }
}
export function isUnknownTagError(e: unknown): e is UnknownTagError {
  return e instanceof UnknownTagError;
}

export class TagNotWritableError extends Error {
  readonly code = 'not-writable';
  constructor(
    readonly plc: string,
    readonly tag: string,
  ) {
    super(`tag "${tag}" of PLC "${plc}" is not writable`);
    this.name = 'TagNotWritableError';
  }
}
export function isTagNotWritableError(e: unknown): e is TagNotWritableError {
  return e instanceof TagNotWritableError;
}

/** More commands waiting for this PLC than `commandQueueLength`. */
export class CommandQueueFullError extends Error {
  readonly code = 'queue-full';
  constructor(
    readonly plc: string,
    readonly limit: number,
  ) {
    super(`PLC "${plc}" already has ${limit} commands waiting`);
    this.name = 'CommandQueueFullError';
  }
}
export function isCommandQueueFullError(e: unknown): e is CommandQueueFullError {
  return e instanceof CommandQueueFullError;
}
