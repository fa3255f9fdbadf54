// Alerts for failed connection attempts: one per kind of failure and broker URL until a connection
// works again, so a broker that stays down for hours raises one alert, not one per retry. TLS and
// TLS-material failures are critical (they do not heal by waiting); the rest are warnings.
import {
  failureKey,
  isBrokerConnectError,
  isTlsMaterialError,
  isWmsTlsError,
} from './link-errors.js';
import type { AlertFn } from './wms-link-types.js';

export class AttemptAlerts {
  private alerted = new Set<string>();

  constructor(private readonly alert: AlertFn) {}

  /** Connected: the next failure of any kind is news again. */
  clear(): void {
    this.alerted.clear();
  }

  failed(err: Error, url: string, delayMs: number): void {
    const key = `${failureKey(err)}@${url}`;
    if (this.alerted.has(key)) return;
    this.alerted.add(key);
    const level = isWmsTlsError(err) || isTlsMaterialError(err) ? 'critical' : 'warning';
    const kind = isWmsTlsError(err) ? err.kind : isBrokerConnectError(err) ? err.kind : undefined;
    this.alert(level, `wms.${failureKey(err)}`, err.message, {
      url,
      ...(kind && { kind }),
      retryInMs: delayMs,
    });
  }
}
