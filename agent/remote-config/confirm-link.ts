// A remote config that changes the WMS settings is only kept if the link comes back up with them:
// otherwise the gateway could never hear the config that fixes it.
import { isDeepStrictEqual } from 'node:util';
import type { GatewayConfig } from '../config/schema.js';

export class LinkNotUpError extends Error {
  constructor(
    readonly urls: string[],
    readonly waitedMs: number,
  ) {
    super(
      `WMS link not up with the new settings (${urls.join(', ') || 'embedded broker'}) after ${waitedMs} ms`,
    );
    this.name = 'LinkNotUpError';
  }
}

export function isLinkNotUpError(e: unknown): e is LinkNotUpError {
  return e instanceof LinkNotUpError;
}

/** Poll period while waiting for the link. */
export const CONFIRM_POLL_MS = 50;

/** A `confirm` hook for RemoteConfigService: waits for `link.stats().connected` when `wms` changed. */
export function confirmLinkUp(link: { stats(): { connected: boolean } }, timeoutMs: number) {
  return async (next: GatewayConfig, previous: GatewayConfig): Promise<void> => {
    if (isDeepStrictEqual(next.wms, previous.wms)) return;
    const start = Date.now();
    while (!link.stats().connected) {
      if (Date.now() - start >= timeoutMs)
        throw new LinkNotUpError(next.wms.urls, Date.now() - start);
      await new Promise((r) => setTimeout(r, CONFIRM_POLL_MS));
    }
  };
}
