// Typed Modbus errors: callers (poller, commands, tests) branch on kinds via the isX guards, never on text.
// Each error carries a short kebab-case `code` that ends up in readings (`errors[tag]`), plc/{plc}/status
// `error` and cmd/result `error` (docs/reason-codes.md).

/** Modbus exception codes by number (Modbus Application Protocol v1.1b3, §7), named in kebab-case. */
export const EXCEPTION_NAMES = {
  1: 'illegal-function',
  2: 'illegal-data-address',
  3: 'illegal-data-value',
  4: 'server-device-failure',
  5: 'acknowledge',
  6: 'server-device-busy',
  7: 'negative-acknowledge',
  8: 'memory-parity-error',
  10: 'gateway-path-unavailable',
  11: 'gateway-target-failed-to-respond',
} as const satisfies Readonly<Record<number, string>>;

/**
 * Every code a PLC read or command can fail with (an exception number the spec does not name is
 * `exception-N`). The poller's own (unknown-tag, not-writable, queue-full) are in plc/poller/errors.ts.
 */
export const PLC_ERROR_CODES = [
  ...Object.values(EXCEPTION_NAMES),
  'timeout',
  'disconnected',
  'bad-response',
  'unknown-tag',
  'not-writable',
  'queue-full',
  'error', // anything else (the message says what)
] as const;
export type PlcErrorCode = (typeof PLC_ERROR_CODES)[number] | `exception-${number}`;

export function exceptionName(code: number): PlcErrorCode {
  return (EXCEPTION_NAMES as Record<number, PlcErrorCode>)[code] ?? `exception-${code}`;
}

/** The device answered with a Modbus exception frame. */
export class ModbusExceptionError extends Error {
  readonly code: PlcErrorCode;
  constructor(
    readonly exceptionCode: number,
    readonly functionCode: number,
    context = '',
  ) {
    super(
      `Modbus exception ${exceptionCode} (${exceptionName(exceptionCode)}) to FC${functionCode}${context}`,
    );
    this.name = 'ModbusExceptionError';
    this.code = exceptionName(exceptionCode);
  }
}
export function isModbusExceptionError(e: unknown): e is ModbusExceptionError {
  return e instanceof ModbusExceptionError;
}

/** No (complete) answer within the request timeout. */
export class ModbusTimeoutError extends Error {
  readonly code = 'timeout';
  constructor(
    readonly timeoutMs: number,
    context = '',
  ) {
    super(`no answer within ${timeoutMs} ms${context}`);
    this.name = 'ModbusTimeoutError';
  }
}
export function isModbusTimeoutError(e: unknown): e is ModbusTimeoutError {
  return e instanceof ModbusTimeoutError;
}

/** The link (TCP connection or serial port) is not open, could not be opened, or closed mid-request. */
export class ModbusConnectionError extends Error {
  readonly code = 'disconnected';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'ModbusConnectionError';
  }
}
export function isModbusConnectionError(e: unknown): e is ModbusConnectionError {
  return e instanceof ModbusConnectionError;
}

/** A short, malformed or mismatched answer (wrong length, count, CRC, unit or function). */
export class ModbusResponseError extends Error {
  readonly code = 'bad-response';
  constructor(message: string) {
    super(message);
    this.name = 'ModbusResponseError';
  }
}
export function isModbusResponseError(e: unknown): e is ModbusResponseError {
  return e instanceof ModbusResponseError;
}

export type ModbusError =
  ModbusExceptionError | ModbusTimeoutError | ModbusConnectionError | ModbusResponseError;

export function isModbusError(e: unknown): e is ModbusError {
  return (
    isModbusExceptionError(e) ||
    isModbusTimeoutError(e) ||
    isModbusConnectionError(e) ||
    isModbusResponseError(e)
  );
}

/** Errors after which a TCP stream can no longer be trusted to be in step: close and reconnect. */
export function isLinkFatal(e: unknown): boolean {
  return isModbusTimeoutError(e) || isModbusConnectionError(e) || isModbusResponseError(e);
}

/** The code recorded against a tag for this error (exception name, timeout, ...). */
export function errorCode(e: unknown): PlcErrorCode {
  if (isModbusError(e)) return e.code;
  if (e && typeof e === 'object' && 'code' in e && isPlcErrorCode(e.code)) return e.code;
  return 'error';
}

export function isPlcErrorCode(c: unknown): c is PlcErrorCode {
  return (
    typeof c === 'string' &&
    ((PLC_ERROR_CODES as readonly string[]).includes(c) || /^exception-\d+$/.test(c))
  );
}
