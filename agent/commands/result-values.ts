// What goes into cmd/result: JSON-safe values and a PLC error named by kind (Modbus exception, timeout, ...).
import { errorCode, PLC_ERROR_CODES, type PlcErrorCode } from '../../plc/driver/errors.js';
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

/**
 * The codes that start cmd/result's `error` (`code: message`; docs/reason-codes.md): the PLC's, plus the
 * command service's own.
 */
export const RESULT_ERROR_CODES = [
  ...PLC_ERROR_CODES,
  'storage-error', // the command id could not be recorded on disk: not run
  'update-lock-busy', // balena's update lock could not be taken for the write
  'interrupted', // the gateway restarted before the PLC answered
] as const;
export type ResultErrorCode = (typeof RESULT_ERROR_CODES)[number] | PlcErrorCode;

/** The command id could not be recorded on disk, so the command was not run. */
export class StorageError extends Error {
  readonly code = 'storage-error';
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

/** `code: message`, e.g. `illegal-data-address: Modbus exception 2 ... to FC16`, `timeout: no answer within 1000 ms`. */
export function describeError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const code: ResultErrorCode = isStorageError(e)
    ? e.code
    : isLockBusyError(e)
      ? 'update-lock-busy'
      : errorCode(e);
  return `${code}: ${msg}`.slice(0, 500);
}
