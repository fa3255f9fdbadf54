// Alerts before the trust policy or a delegated key expires (trust.alertDays, 30 and 7 by default; the
// last one critical), and once it has expired. Each (subject, step) is raised once per policy in force.
import type { LoadedPolicy } from './trust-store.js';

export interface ExpiryAlert {
  level: 'warning' | 'critical';
  code: 'trust.expiring' | 'trust.expired';
  message: string;
}

export class ExpiryAlerts {
  private raised = new Set<string>();

  constructor(private readonly days: readonly number[]) {}

  /** Forget what was raised (a new policy is in force). */
  reset(): void {
    this.raised.clear();
  }

  /** The alerts due now that were not raised yet. */
  due(p: LoadedPolicy | undefined, nowSeconds: number): ExpiryAlert[] {
    if (!p) return [];
    const subjects: [string, number][] = [
      [`trust policy version ${p.policy.version}`, p.policy.exp],
    ];
    for (const k of p.keys)
      if (k.exp !== undefined) subjects.push([`delegated key ${k.kid}`, k.exp]);
    const steps = [...this.days].sort((a, b) => b - a);
    const out: ExpiryAlert[] = [];
    for (const [subject, exp] of subjects) {
      const left = exp - nowSeconds;
      const at = new Date(exp * 1000).toISOString();
      if (left <= 0) {
        if (this.once(subject, 'expired'))
          out.push({
            level: 'critical',
            code: 'trust.expired',
            message: `${subject} expired at ${at}: it no longer signs anything`,
          });
        continue;
      }
      // Only the nearest step crossed is raised (a policy applied 5 days before expiry gets one alert).
      const crossed = steps.filter((d) => left <= d * 86_400);
      const step = crossed[crossed.length - 1];
      if (step === undefined || !this.once(subject, String(step))) continue;
      for (const d of crossed) this.raised.add(`${subject}|${d}`);
      out.push({
        level: step === steps[steps.length - 1] ? 'critical' : 'warning',
        code: 'trust.expiring',
        message: `${subject} expires at ${at} (in ${Math.ceil(left / 86_400)} day(s)): sign a new policy`,
      });
    }
    return out;
  }

  private once(subject: string, step: string): boolean {
    const k = `${subject}|${step}`;
    if (this.raised.has(k)) return false;
    this.raised.add(k);
    return true;
  }
}
