// Per-unit backoff: a unit (PLC) that does not answer is skipped for a capped, jittered, growing
// delay, so it never holds a shared TCP connection or RTU bus every interval. Its link stays up for
// the other units behind the same endpoint or on the same bus.
import { isModbusExceptionError, isModbusTimeoutError } from '../driver/errors.js';
import { backoffDelay } from '../../platform/backoff.js';

/** Gateway exceptions: the gateway is there, the unit behind it is not (Modbus v1.1b3 §7). */
const GATEWAY_PATH_UNAVAILABLE = 0x0a;
const GATEWAY_TARGET_FAILED = 0x0b;

/** The unit itself does not answer (the link may be fine): back this unit off, not the others. */
export function isUnitSilent(e: unknown): boolean {
  return (
    isModbusTimeoutError(e) ||
    (isModbusExceptionError(e) &&
      (e.exceptionCode === GATEWAY_PATH_UNAVAILABLE || e.exceptionCode === GATEWAY_TARGET_FAILED))
  );
}

export class UnitBackoff {
  /** Consecutive rounds the unit did not answer. */
  private attempt = 0;
  private until = 0;
  /** The reason code of the silence (timeout, gateway-path-unavailable, ...). */
  failure = '';

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {}

  /** No polls now: the unit is in its backoff delay. */
  active(now = performance.now()): boolean {
    return this.until > now;
  }

  /**
   * The unit did not answer a whole cycle: the next delay, or undefined when it is already backed off
   * (several groups' cycles in flight at once fail together; that is one silence, not several).
   */
  backOff(code: string): number | undefined {
    const now = performance.now();
    if (this.active(now)) return undefined;
    const delay = backoffDelay(this.attempt++, this.minMs, this.maxMs);
    this.until = now + delay;
    this.failure = code;
    return delay;
  }

  get attempts(): number {
    return this.attempt;
  }

  /** The unit answered: the next silence starts from the shortest delay. */
  answered(): void {
    this.attempt = 0;
  }
}
