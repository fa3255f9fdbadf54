// The client certificate as the gateway reports it (retained cert/state, the dashboard, diagnose):
// which one is in force, when it renews, and where a renewal stands.
import type { CertInfo } from './certificate.js';

export type CertStatus = 'ok' | 'renewing' | 'expiring' | 'expired';

export interface CertState {
  serial: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  renewAt: string;
  status: CertStatus;
  phase: 'idle' | 'pending' | 'trial';
  error?: string;
  detail?: string;
  ts: string;
}

export type RenewalPhase = CertState['phase'];

/** The report at `now`: expired beats renewing (a renewal under way) beats expiring (renewAt passed). */
export function certState(
  i: CertInfo,
  at: Date,
  phase: RenewalPhase,
  lastError: { reason: string; detail: string } | undefined,
  now: number,
): CertState {
  const status: CertStatus =
    now >= i.notAfter.getTime()
      ? 'expired'
      : phase !== 'idle'
        ? 'renewing'
        : now >= at.getTime()
          ? 'expiring'
          : 'ok';
  return {
    serial: i.serial,
    subject: i.subject,
    notBefore: i.notBefore.toISOString(),
    notAfter: i.notAfter.toISOString(),
    renewAt: at.toISOString(),
    status,
    phase,
    ...(lastError && { error: lastError.reason, detail: lastError.detail }),
    ts: new Date(now).toISOString(),
  };
}
