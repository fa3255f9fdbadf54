// Typed Modbus errors: callers (poller, commands, tests) branch on kinds via the isX guards, never on text.
// Each error carries a short `code` name that ends up in readings (`errors[tag]`) and command results.

/** Modbus exception codes by number (Modbus Application Protocol v1.1b3, §7). */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'ILLEGAL_FUNCTION',
  2: 'ILLEGAL_DATA_ADDRESS',
  3: 'ILLEGAL_DATA_VALUE',
  4: 'SERVER_DEVICE_FAILURE',
  5: 'ACKNOWLEDGE',
  6: 'SERVER_DEVICE_BUSY',
  7: 'NEGATIVE_ACKNOWLEDGE',
  8: 'MEMORY_PARITY_ERROR',
  10: 'GATEWAY_PATH_UNAVAILABLE',
  11: 'GATEWAY_TARGET_FAILED_TO_RESPOND',
};

export function exceptionName(code: number): string {
  return EXCEPTION_NAMES[code] ?? `EXCEPTION_${code}`;
}

/** The device answered with a Modbus exception frame. */
export class ModbusExceptionError extends Error {
  readonly code: string;
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
  readonly code = 'TIMEOUT';
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
  readonly code = 'DISCONNECTED';
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
  readonly code = 'BAD_RESPONSE';
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

/** The short name recorded against a tag for this error (exception name, TIMEOUT, ...). */
export function errorCode(e: unknown): string {
  if (isModbusError(e)) return e.code;
  if (e && typeof e === 'object' && 'code' in e && typeof e.code === 'string') return e.code;
  return 'ERROR';
}
