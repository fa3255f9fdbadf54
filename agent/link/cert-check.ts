// Client certificate health for mutual TLS: expiry (warning N days before, critical M days before or
// after) and a private key file that group or others may read. Returns alerts; the link publishes them.
import { X509Certificate } from 'node:crypto';
import type { GatewayConfig } from '../config/schema.js';
import { certificateNotAfter, keyFileTooOpen, loadTlsMaterial } from './tls-material.js';

export interface CertAlert {
  level: 'warning' | 'critical';
  code: string;
  message: string;
  extra?: object;
}

const MS_PER_DAY = 86_400_000;

export function checkClientCertificate(
  tls: GatewayConfig['wms']['tls'],
  now = Date.now(),
): CertAlert[] {
  const out: CertAlert[] = [];
  if (keyFileTooOpen(tls.key))
    out.push({
      level: 'warning',
      code: 'wms.tls.key-permissions',
      message: `client key ${tls.key} is readable by group or others; chmod 600 it`,
    });
  if (!tls.cert) return out;
  try {
    const cert = loadTlsMaterial(tls).cert;
    if (!cert) return out;
    const notAfter = certificateNotAfter(cert);
    const days = (notAfter.getTime() - now) / MS_PER_DAY;
    const extra = { notAfter: notAfter.toISOString(), daysLeft: Math.floor(days) };
    const expiring = `client certificate expires in ${extra.daysLeft} days (${extra.notAfter})`;
    if (days <= 0)
      out.push({
        level: 'critical',
        code: 'wms.tls.cert-expired',
        message: `client certificate expired on ${extra.notAfter}`,
        extra,
      });
    else if (days <= tls.expiryCriticalDays)
      out.push({ level: 'critical', code: 'wms.tls.cert-expiring', message: expiring, extra });
    else if (days <= tls.expiryWarningDays)
      out.push({ level: 'warning', code: 'wms.tls.cert-expiring', message: expiring, extra });
  } catch (e) {
    out.push({ level: 'critical', code: 'wms.tls.material', message: (e as Error).message });
  }
  return out;
}

/** The client certificate in use, shaped like the cert/state payload (CONTRACT.md §7); null without one. */
export function clientCertificateState(
  tls: GatewayConfig['wms']['tls'],
  now = Date.now(),
): Record<string, unknown> | null {
  if (!tls.cert) return null;
  try {
    const pem = loadTlsMaterial(tls).cert;
    if (!pem) return null;
    const c = new X509Certificate(pem);
    const notAfter = new Date(c.validTo);
    const days = (notAfter.getTime() - now) / MS_PER_DAY;
    return {
      serial: c.serialNumber,
      subject: c.subject.replace(/\n/g, ', '),
      notBefore: new Date(c.validFrom).toISOString(),
      notAfter: notAfter.toISOString(),
      status: days <= 0 ? 'expired' : days <= tls.expiryWarningDays ? 'expiring' : 'ok',
    };
  } catch (e) {
    return { status: 'expired', error: (e as Error).message };
  }
}
