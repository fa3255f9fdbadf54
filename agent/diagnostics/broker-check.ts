// The broker: TCP connect, TLS handshake with the configured CA and client certificate, certificate
// expiry on both sides, then an MQTT CONNECT (credentials, protocol) — each failure with its remedy.
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { X509Certificate, randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import type { GatewayConfig } from '../config/schema.js';
import { loadTlsMaterial, type ClientPair, type TlsMaterial } from '../link/tls-material.js';
import { errCode, type DiagCheck } from './check.js';

export const CERT_EXPIRY_WARN_DAYS = 30;
const DEFAULT_PORTS: Record<string, number> = {
  'mqtt:': 1883,
  'tcp:': 1883,
  'mqtts:': 8883,
  'ssl:': 8883,
  'ws:': 80,
  'wss:': 443,
};

const TLS_ADVICE: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    'The broker certificate is not signed by the configured CA: set wms.tls.ca (WMS_CA) to the CA that issued it.',
  SELF_SIGNED_CERT_IN_CHAIN:
    'The broker chain ends in a CA the gateway does not trust: set wms.tls.ca (WMS_CA) to that CA.',
  DEPTH_ZERO_SELF_SIGNED_CERT:
    'The broker uses a self-signed certificate: put it in wms.tls.ca (WMS_CA), or better, issue one from a CA.',
  CERT_HAS_EXPIRED:
    'The broker certificate has expired: renew it on the broker (or check the gateway clock).',
  CERT_NOT_YET_VALID:
    'The broker certificate is not valid yet: the gateway clock is probably behind; check NTP.',
  ERR_TLS_CERT_ALTNAME_INVALID:
    'The broker certificate does not name this host: use the host name in the certificate, or set wms.tls.servername.',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION:
    'The broker does not offer TLS 1.3: enable TLS 1.3 on the broker (tls_version tlsv1.3 in mosquitto).',
  ERR_SSL_NO_PROTOCOLS_AVAILABLE:
    'The broker does not offer TLS 1.3: enable TLS 1.3 on the broker.',
};

export interface BrokerCheckResult {
  checks: DiagCheck[];
  /** Validity window of the broker's certificate: a clock reference when nothing better is at hand. */
  peerValidity?: { from: Date; to: Date } | undefined;
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve();
    });
    s.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

function tlsProbe(
  host: string,
  port: number,
  m: TlsMaterial,
  timeoutMs: number,
): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = tlsConnect({
      host,
      port,
      ca: m.ca,
      cert: m.cert,
      key: m.key,
      ...(m.passphrase !== undefined && { passphrase: m.passphrase }),
      ...(m.crl && { crl: m.crl }),
      servername: m.servername ?? host,
      minVersion: 'TLSv1.3',
      rejectUnauthorized: true,
    });
    const t = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error('TLS handshake timeout'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(t);
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      s.destroy();
      reject(e);
    });
  });
}

function expiryCheck(name: string, who: string, to: Date, now: Date, advice: string): DiagCheck {
  const days = (to.getTime() - now.getTime()) / 86_400_000;
  if (days < 0)
    return {
      name,
      status: 'critical',
      message: `${who} certificate expired on ${to.toISOString()}`,
      recommendation: advice,
      detail: { notAfter: to.toISOString() },
    };
  if (days < CERT_EXPIRY_WARN_DAYS)
    return {
      name,
      status: 'warning',
      message: `${who} certificate expires in ${Math.floor(days)} days (${to.toISOString()})`,
      recommendation: advice,
      detail: { notAfter: to.toISOString() },
    };
  return {
    name,
    status: 'ok',
    message: `${who} certificate valid until ${to.toISOString()} (${Math.floor(days)} days)`,
    detail: { notAfter: to.toISOString() },
  };
}

export async function brokerCheck(
  url: string,
  wms: GatewayConfig['wms'],
  gatewayId: string,
  timeoutMs: number,
  identity: { passphrase?: string | undefined; pair?: ClientPair | undefined } = {},
): Promise<BrokerCheckResult> {
  const name = `broker.${url}`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return {
      checks: [
        {
          name,
          status: 'critical',
          message: 'not a URL',
          recommendation: 'Fix wms.urls / WMS_MQTT_URL (e.g. mqtts://host:8883).',
        },
      ],
    };
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port) || DEFAULT_PORTS[u.protocol] || 1883;
  const secure = ['mqtts:', 'ssl:', 'wss:'].includes(u.protocol);
  const checks: DiagCheck[] = [];
  try {
    await tcpProbe(host, port, timeoutMs);
  } catch (e) {
    const code = errCode(e);
    checks.push({
      name,
      status: 'critical',
      message: `cannot reach ${host}:${port}: ${code}`,
      recommendation:
        code === 'ECONNREFUSED'
          ? `Nothing accepts connections on ${host}:${port}: check the broker is running and the port in wms.urls; data waits in the outbox meanwhile.`
          : `Check the network path to ${host}:${port} (DNS, firewall, proxy); data waits in the outbox meanwhile.`,
      detail: { host, port, error: code },
    });
    return { checks };
  }
  let material: TlsMaterial = {};
  let peerValidity: BrokerCheckResult['peerValidity'];
  if (secure) {
    try {
      material = loadTlsMaterial(wms.tls, identity.passphrase, identity.pair);
    } catch (e) {
      checks.push({
        name,
        status: 'critical',
        message: e instanceof Error ? e.message : String(e),
        recommendation:
          'Fix wms.tls (WMS_CA, WMS_CERT, WMS_KEY): each a PEM text or a readable file path.',
      });
      return { checks };
    }
    let peer: PeerCertificate;
    try {
      peer = await tlsProbe(host, port, material, timeoutMs);
    } catch (e) {
      const code = errCode(e);
      const reason = (e as { reason?: string }).reason;
      const alert = /alert (\w[\w ]*)/i.exec((e as Error).message ?? '')?.[1];
      const byClientCert = /certificate (required|unknown|bad)|unknown ca|handshake failure/i.test(
        `${code} ${reason ?? ''} ${(e as Error).message}`,
      );
      checks.push({
        name,
        status: 'critical',
        message: `TLS handshake with ${host}:${port} failed: ${code}${alert ? ` (${alert})` : ''}`,
        recommendation:
          TLS_ADVICE[code] ??
          (byClientCert
            ? 'The broker rejected the client certificate: check wms.tls.cert/key (WMS_CERT, WMS_KEY) were issued by a CA the broker trusts.'
            : 'Check wms.tls.ca matches the CA of the broker certificate and that the broker offers TLS 1.3.'),
        detail: { host, port, error: code, message: (e as Error).message },
      });
      return { checks };
    }
    const now = new Date();
    peerValidity = { from: new Date(peer.valid_from), to: new Date(peer.valid_to) };
    checks.push({
      name,
      status: 'ok',
      message: `TLS 1.3 handshake with ${host}:${port} verified (${peer.subject?.CN ?? 'no CN'})`,
      detail: { host, port },
    });
    checks.push(
      expiryCheck(
        `${name}.server-certificate`,
        'broker',
        peerValidity.to,
        now,
        'Renew the broker certificate before it expires; the gateway will refuse it afterwards.',
      ),
    );
    if (material.cert) {
      try {
        const to = new Date(new X509Certificate(material.cert).validTo);
        checks.push(
          expiryCheck(
            `${name}.client-certificate`,
            'gateway client',
            to,
            now,
            'Issue a new client certificate for this gateway and set WMS_CERT/WMS_KEY (device variables) before it expires.',
          ),
        );
      } catch (e) {
        checks.push({
          name: `${name}.client-certificate`,
          status: 'critical',
          message: `client certificate unreadable: ${(e as Error).message}`,
          recommendation: 'Set WMS_CERT to a PEM X.509 certificate.',
        });
      }
    }
  }
  // The MQTT session itself: protocol version and credentials.
  try {
    const client = await mqtt.connectAsync(url, {
      clientId: `${gatewayId}-diag-${randomBytes(3).toString('hex')}`.slice(0, 64),
      protocolVersion: wms.protocolVersion,
      connectTimeout: timeoutMs,
      reconnectPeriod: 0,
      clean: true,
      username: wms.username,
      password: wms.password,
      ...(secure
        ? {
            ca: material.ca,
            cert: material.cert,
            key: material.key,
            ...(material.passphrase !== undefined && { passphrase: material.passphrase }),
            ...(material.crl && { crl: material.crl }),
            servername: material.servername ?? host,
            minVersion: 'TLSv1.3',
            rejectUnauthorized: true,
          }
        : {}),
    });
    await client.endAsync();
    if (!secure)
      checks.push({
        name,
        status: 'ok',
        message: `MQTT session with ${host}:${port} accepted`,
        detail: { host, port },
      });
    else checks.push({ name: `${name}.mqtt`, status: 'ok', message: 'MQTT session accepted' });
  } catch (e) {
    const code = errCode(e);
    checks.push({
      name: secure ? `${name}.mqtt` : name,
      status: 'critical',
      message: `MQTT CONNECT to ${host}:${port} failed: ${code}`,
      recommendation: /auth|authori|identifier|credentials/i.test(String((e as Error).message))
        ? "The broker refused the credentials: check wms.username/password or the client certificate's permissions on the broker."
        : 'The port answers but not as an MQTT broker of the configured version: check wms.urls and wms.protocolVersion.',
      detail: { host, port, error: code },
    });
  }
  return { checks, peerValidity };
}
