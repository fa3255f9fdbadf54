// Why a connection to the WMS broker failed, as typed errors: the link alerts and backs off on each kind
// instead of crashing, and callers branch on isX(e) / e.kind, never on message text.

export type TlsFailureKind =
  | 'expired' // the broker's certificate is expired
  | 'untrusted' // the broker's certificate does not chain to the configured CA
  | 'hostname-mismatch' // the certificate is not for the host we dialled
  | 'version-refused' // no common TLS version (the broker does not speak TLS 1.3)
  | 'client-cert-rejected' // the broker refused our client certificate (unknown CA, expired, missing)
  | 'revoked' // the broker's certificate is on a CRL of wms.tls.crl
  | 'handshake'; // any other TLS failure

export class WmsTlsError extends Error {
  constructor(
    readonly kind: TlsFailureKind,
    readonly url: string,
    readonly code: string | undefined,
    detail: string,
  ) {
    super(`TLS ${kind} for ${url}: ${detail}`);
    this.name = 'WmsTlsError';
  }
}
export function isWmsTlsError(e: unknown): e is WmsTlsError {
  return e instanceof WmsTlsError;
}

/** CA / certificate / key configured but unusable (missing file, not PEM). */
export class TlsMaterialError extends Error {
  constructor(
    readonly field: 'ca' | 'cert' | 'key' | 'crl',
    readonly reason: string,
  ) {
    super(`wms.tls.${field}: ${reason}`);
    this.name = 'TlsMaterialError';
  }
}
export function isTlsMaterialError(e: unknown): e is TlsMaterialError {
  return e instanceof TlsMaterialError;
}

export type ConnectFailureKind = 'refused' | 'timeout' | 'closed' | 'rejected' | 'network';

/** Not TLS: the broker was unreachable, timed out, closed the connection or refused the CONNECT. */
export class BrokerConnectError extends Error {
  constructor(
    readonly kind: ConnectFailureKind,
    readonly url: string,
    readonly code: string | number | undefined,
    detail: string,
  ) {
    super(`broker ${kind} at ${url}: ${detail}`);
    this.name = 'BrokerConnectError';
  }
}
export function isBrokerConnectError(e: unknown): e is BrokerConnectError {
  return e instanceof BrokerConnectError;
}

const TLS_CODES: Record<string, TlsFailureKind> = {
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'expired',
  CERT_REVOKED: 'revoked',
  UNABLE_TO_GET_CRL: 'untrusted', // wms.tls.crl has no CRL for one of the broker's CAs
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'untrusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'untrusted',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT: 'untrusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'untrusted',
  CERT_SIGNATURE_FAILURE: 'untrusted',
  CERT_UNTRUSTED: 'untrusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'hostname-mismatch',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'version-refused',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'version-refused',
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: 'version-refused',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'client-cert-rejected',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'client-cert-rejected',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'client-cert-rejected',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: 'client-cert-rejected',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'client-cert-rejected',
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: 'client-cert-rejected',
};

/** TLS alert numbers (RFC 8446 §6) an OpenSSL EPROTO error carries when the peer refused the handshake. */
const TLS_ALERTS: Record<number, TlsFailureKind> = {
  70: 'version-refused', // protocol_version
  42: 'client-cert-rejected', // bad_certificate
  43: 'client-cert-rejected', // unsupported_certificate
  44: 'client-cert-rejected', // certificate_revoked
  45: 'client-cert-rejected', // certificate_expired
  46: 'client-cert-rejected', // certificate_unknown
  48: 'client-cert-rejected', // unknown_ca
  116: 'client-cert-rejected', // certificate_required
};

/** Turn whatever mqtt.js / node:tls / node:net emitted into one of the typed errors above. */
export function classifyConnectError(err: unknown, url: string): Error {
  if (isWmsTlsError(err) || isBrokerConnectError(err) || isTlsMaterialError(err)) return err;
  const e = err as (Error & { code?: string | number }) | undefined;
  const code = e?.code;
  const msg = e?.message ?? String(err);
  if (typeof code === 'string') {
    // Our own key: encrypted and WMS_KEY_PASSPHRASE missing or wrong (never the broker's doing).
    if (code === 'ERR_OSSL_BAD_DECRYPT' || code === 'ERR_OSSL_EVP_BAD_DECRYPT')
      return new TlsMaterialError(
        'key',
        'cannot decrypt the client key: WMS_KEY_PASSPHRASE is missing or wrong',
      );
    const kind = TLS_CODES[code];
    if (kind) return new WmsTlsError(kind, url, code, msg);
    if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))
      return new WmsTlsError('handshake', url, code, msg);
    if (code === 'EPROTO') {
      // node:tls reports a peer's alert only in the OpenSSL text; the alert number is the stable part.
      const alert = /SSL alert number (\d+)/.exec(msg);
      const kind = alert ? TLS_ALERTS[Number(alert[1])] : undefined;
      return new WmsTlsError(
        kind ??
          (/wrong version number|unsupported protocol/i.test(msg)
            ? 'version-refused'
            : 'handshake'),
        url,
        code,
        msg,
      );
    }
    if (code === 'ECONNREFUSED') return new BrokerConnectError('refused', url, code, msg);
    if (code === 'ETIMEDOUT') return new BrokerConnectError('timeout', url, code, msg);
    return new BrokerConnectError('network', url, code, msg);
  }
  if (typeof code === 'number') return new BrokerConnectError('rejected', url, code, msg); // CONNACK reason
  if (/TLS not authorized/.test(msg)) return new WmsTlsError('untrusted', url, undefined, msg);
  return new BrokerConnectError('closed', url, undefined, msg);
}

/** A stable short name of the failure, used to alert once per kind instead of once per attempt. */
export function failureKey(e: Error): string {
  if (isWmsTlsError(e)) return `tls.${e.kind}`;
  if (isTlsMaterialError(e)) return `tls-material.${e.field}`;
  if (isBrokerConnectError(e)) return `connect.${e.kind}`;
  return 'connect.other';
}
