// The one got configuration both balena peers use: Bearer auth, a per-request timeout and
// capped exponential backoff on transient failures. 429 is not retried here: it surfaces as a
// RateLimit error so the caller can wait Retry-After without holding a request open.
import got, { type Got } from 'got';
import { backoffDelay } from '../../platform/backoff.js';

export interface HttpSettings {
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Retries of idempotent requests on network errors and 5xx. */
  retries?: number;
  /** First retry delay; doubled per attempt (platform/backoff.ts: half fixed, half random). */
  backoffBaseMs?: number;
  /** Longest delay between two retries. */
  backoffCapMs?: number;
}

export const HTTP_DEFAULTS = {
  timeoutMs: 10_000,
  retries: 3,
  backoffBaseMs: 500,
  backoffCapMs: 10_000,
} as const satisfies Required<HttpSettings>;

export function createBalenaHttp(baseUrl: string, token: string | undefined, s: HttpSettings): Got {
  const cfg = { ...HTTP_DEFAULTS, ...s };
  return got.extend({
    prefixUrl: baseUrl.replace(/\/+$/, ''),
    headers: token ? { authorization: `Bearer ${token}` } : {},
    timeout: { request: cfg.timeoutMs },
    retry: {
      limit: cfg.retries,
      // PATCH/POST are retried only where the caller knows they are idempotent (it passes its own retry).
      methods: ['GET', 'HEAD', 'OPTIONS'],
      statusCodes: [408, 500, 502, 503, 504],
      calculateDelay: ({ attemptCount, computedValue }) =>
        computedValue === 0
          ? 0
          : Math.round(backoffDelay(attemptCount - 1, cfg.backoffBaseMs, cfg.backoffCapMs)),
    },
    throwHttpErrors: true,
  });
}
