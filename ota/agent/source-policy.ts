// Where an unsigned offer may send the gateway. An offer that is only {"url"} carries no signature, so
// anyone who can publish on ota/offer could make the gateway fetch any URL (its own /metrics, hosts on
// the plant network). Such offers are fetched only from hosts matching ota.sources; the default (none)
// means a signed manifest is needed. A signed manifest is verified before any download.
import { OtaRefusal } from '../errors.js';

/**
 * One pattern: `host`, `host:port`, `*.domain` (any sub-domain, not the domain itself) or
 * `*.domain:port`. Host names compare case-insensitively; IPv6 literals in brackets.
 */
export function hostMatches(url: URL, pattern: string): boolean {
  const p = pattern.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(p);
  if (!m) return false;
  const [, host, port] = m;
  const effectivePort = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (port !== undefined && port !== effectivePort) return false;
  const h = url.hostname.toLowerCase();
  if (host!.startsWith('*.')) return h.endsWith(host!.slice(1)) && h.length > host!.length - 1;
  return h === host;
}

/** Throws OtaRefusal source-not-allowed unless url's host matches one of sources. */
export function checkSource(url: string, sources: readonly string[]): void {
  const u = new URL(url);
  if (sources.some((p) => hostMatches(u, p))) return;
  throw new OtaRefusal(
    'source-not-allowed',
    sources.length === 0
      ? `unsigned offer for ${u.host} refused: ota.sources is empty, so an offer needs a signed manifest`
      : `unsigned offer for ${u.host} refused: host not in ota.sources`,
  );
}
