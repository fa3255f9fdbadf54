// What goes into cmd/result: JSON-safe values and a PLC error named by kind (Modbus exception, TIMEOUT, ...).
import { errorCode } from '../../plc/driver/errors.js';
import { isLockBusyError } from '../balena/update-lock.js';

/** JSON has no NaN/Infinity/bigint: non-finite numbers become null, bigints strings. */
export function jsonValues(values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === 'number') out[k] = Number.isFinite(v) ? v : null;
    else if (typeof v === 'bigint')
      out[k] = Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    else out[k] = v;
  }
  return out;
}

/** The command id could not be recorded on disk, so the command was not run. */
export class StorageError extends Error {
  readonly code = 'STORAGE_ERROR';
  constructor(override readonly cause: unknown) {
    super(
      `could not record the command id on disk (${(cause as Error)?.message ?? String(cause)}); not run`,
    );
    this.name = 'StorageError';
  }
}
export function isStorageError(e: unknown): e is StorageError {
  return e instanceof StorageError;
}

/** `CODE: message`, e.g. `ILLEGAL_DATA_ADDRESS: Modbus exception 2 ... to FC16`, `TIMEOUT: no answer within 1000 ms`. */
export function describeError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const code = isLockBusyError(e) ? 'UPDATE_LOCK_BUSY' : errorCode(e);
  return `${code}: ${msg}`.slice(0, 500);
}
