// Parse an `ota/offer` MQTT payload (CONTRACT.md §3): a compact JWS manifest, or JSON {"url"} of a
// bundle, or {"manifest": JWS, "url"}; JSON offers may add "fullUrl" (the full bundle, fetched when
// a delta does not fit this device). Hostile input: bounded, every field checked.
import { OtaRefusal } from '../errors.js';
import type { UpdateSource } from '../device/updater.js';

/** Largest offer payload accepted (bytes). */
export const MAX_OFFER_BYTES = 1024 * 1024;
const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function checkUrl(u: unknown, field: string): string {
  if (typeof u !== 'string') throw new OtaRefusal('bad-offer', `offer.${field}: must be a string`);
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new OtaRefusal('bad-offer', `offer.${field}: not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new OtaRefusal('bad-offer', `offer.${field}: must be http(s)`);
  return u;
}

export function parseOffer(payload: Buffer): UpdateSource {
  if (payload.length > MAX_OFFER_BYTES)
    throw new OtaRefusal(
      'bad-offer',
      `offer is ${payload.length} bytes, more than ${MAX_OFFER_BYTES}`,
    );
  const text = payload.toString('utf8').trim();
  if (JWS.test(text)) return { offerJws: text };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new OtaRefusal('bad-offer', 'offer: neither a compact JWS nor JSON');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new OtaRefusal('bad-offer', 'offer: must be an object');
  const o = doc as Record<string, unknown>;
  // "now" outside the manifest is not covered by the signature: anyone on the broker could send it.
  if (o.now !== undefined)
    throw new OtaRefusal(
      'now-unsigned',
      'offer.now: must be inside the signed manifest ("now": true signed by an ota key)',
    );
  const unknown = Object.keys(o).filter((k) => !['url', 'manifest', 'fullUrl'].includes(k));
  if (unknown.length) throw new OtaRefusal('bad-offer', `offer.${unknown[0]}: unknown field`);
  if (o.manifest !== undefined) {
    if (typeof o.manifest !== 'string' || !JWS.test(o.manifest.trim()))
      throw new OtaRefusal('bad-offer', 'offer.manifest: must be a compact JWS');
    const fullUrl = o.fullUrl === undefined ? {} : { fullUrl: checkUrl(o.fullUrl, 'fullUrl') };
    return o.url === undefined
      ? { offerJws: o.manifest.trim(), ...fullUrl }
      : { url: checkUrl(o.url, 'url'), offerJws: o.manifest.trim(), ...fullUrl };
  }
  if (o.url === undefined) throw new OtaRefusal('bad-offer', 'offer.url: is required');
  return {
    url: checkUrl(o.url, 'url'),
    ...(o.fullUrl === undefined ? {} : { fullUrl: checkUrl(o.fullUrl, 'fullUrl') }),
  };
}
