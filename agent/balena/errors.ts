// Typed errors of the two balena HTTP peers (on-device supervisor, cloud API), each with a guard.
// Callers branch on the kind (e.g. back off on unavailable, wait on rate limit), never on message text.
import { HTTPError, RequestError } from 'got';

export type BalenaPeer = 'supervisor' | 'cloud-api';

export class BalenaHttpError extends Error {
  constructor(
    message: string,
    readonly peer: BalenaPeer,
    readonly statusCode?: number,
  ) {
    super(message);
    this.name = 'BalenaHttpError';
  }
}

/** The peer could not be reached, timed out or answered 5xx: retry later, keep what is pending. */
export class SupervisorUnavailableError extends BalenaHttpError {
  override name = 'SupervisorUnavailableError';
}
/** 401/403: the API key is missing or wrong; retrying will not help. */
export class SupervisorAuthError extends BalenaHttpError {
  override name = 'SupervisorAuthError';
}
/** 429: wait retryAfterMs (from Retry-After) before the next request. */
export class SupervisorRateLimitError extends BalenaHttpError {
  override name = 'SupervisorRateLimitError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message, 'supervisor', 429);
  }
}
/** 404: this supervisor does not have the endpoint (too old) or the resource does not exist. */
export class SupervisorNotFoundError extends BalenaHttpError {
  override name = 'SupervisorNotFoundError';
}
/** Any other refusal, or an answer whose shape is not the documented one. */
export class SupervisorResponseError extends BalenaHttpError {
  override name = 'SupervisorResponseError';
}

export class CloudApiUnavailableError extends BalenaHttpError {
  override name = 'CloudApiUnavailableError';
}
export class CloudApiAuthError extends BalenaHttpError {
  override name = 'CloudApiAuthError';
}
export class CloudApiRateLimitError extends BalenaHttpError {
  override name = 'CloudApiRateLimitError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message, 'cloud-api', 429);
  }
}
export class CloudApiNotFoundError extends BalenaHttpError {
  override name = 'CloudApiNotFoundError';
}
/** 409, or a unique-constraint refusal: the resource already exists. */
export class CloudApiConflictError extends BalenaHttpError {
  override name = 'CloudApiConflictError';
}
export class CloudApiResponseError extends BalenaHttpError {
  override name = 'CloudApiResponseError';
}

export const isBalenaHttpError = (e: unknown): e is BalenaHttpError => e instanceof BalenaHttpError;
export const isSupervisorUnavailableError = (e: unknown): e is SupervisorUnavailableError =>
  e instanceof SupervisorUnavailableError;
export const isSupervisorAuthError = (e: unknown): e is SupervisorAuthError =>
  e instanceof SupervisorAuthError;
export const isSupervisorRateLimitError = (e: unknown): e is SupervisorRateLimitError =>
  e instanceof SupervisorRateLimitError;
export const isSupervisorNotFoundError = (e: unknown): e is SupervisorNotFoundError =>
  e instanceof SupervisorNotFoundError;
export const isSupervisorResponseError = (e: unknown): e is SupervisorResponseError =>
  e instanceof SupervisorResponseError;
export const isCloudApiUnavailableError = (e: unknown): e is CloudApiUnavailableError =>
  e instanceof CloudApiUnavailableError;
export const isCloudApiAuthError = (e: unknown): e is CloudApiAuthError =>
  e instanceof CloudApiAuthError;
export const isCloudApiRateLimitError = (e: unknown): e is CloudApiRateLimitError =>
  e instanceof CloudApiRateLimitError;
export const isCloudApiNotFoundError = (e: unknown): e is CloudApiNotFoundError =>
  e instanceof CloudApiNotFoundError;
export const isCloudApiConflictError = (e: unknown): e is CloudApiConflictError =>
  e instanceof CloudApiConflictError;
export const isCloudApiResponseError = (e: unknown): e is CloudApiResponseError =>
  e instanceof CloudApiResponseError;

/** Either peer is unreachable or overloaded right now (worth retrying later). */
export const isTransientBalenaError = (e: unknown): boolean =>
  isSupervisorUnavailableError(e) ||
  isCloudApiUnavailableError(e) ||
  isSupervisorRateLimitError(e) ||
  isCloudApiRateLimitError(e);

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(
  header: string | string[] | undefined,
  fallbackMs: number,
  now = Date.now(),
): number {
  const v = Array.isArray(header) ? header[0] : header;
  if (!v) return fallbackMs;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? fallbackMs : Math.max(0, at - now);
}

const DEFAULT_RETRY_AFTER_MS = 10_000;

/** Map a got failure to the peer's typed error. `what` names the request in the message. */
export function toBalenaError(e: unknown, peer: BalenaPeer, what: string): Error {
  if (isBalenaHttpError(e)) return e;
  const sup = peer === 'supervisor';
  if (e instanceof HTTPError) {
    const code = e.response.statusCode;
    const msg = `${what}: HTTP ${code}`;
    if (code === 401 || code === 403)
      return sup
        ? new SupervisorAuthError(msg, peer, code)
        : new CloudApiAuthError(msg, peer, code);
    if (code === 429) {
      const ms = parseRetryAfter(e.response.headers['retry-after'], DEFAULT_RETRY_AFTER_MS);
      return sup ? new SupervisorRateLimitError(msg, ms) : new CloudApiRateLimitError(msg, ms);
    }
    if (code === 404)
      return sup
        ? new SupervisorNotFoundError(msg, peer, code)
        : new CloudApiNotFoundError(msg, peer, code);
    if (code === 409 && !sup) return new CloudApiConflictError(msg, peer, code);
    if (code >= 500)
      return sup
        ? new SupervisorUnavailableError(msg, peer, code)
        : new CloudApiUnavailableError(msg, peer, code);
    return sup
      ? new SupervisorResponseError(msg, peer, code)
      : new CloudApiResponseError(msg, peer, code);
  }
  if (e instanceof RequestError) {
    // Network failures and timeouts: the peer is away, not wrong.
    const msg = `${what}: ${e.code ?? e.name}`;
    if (e.name === 'ParseError')
      return sup ? new SupervisorResponseError(msg, peer) : new CloudApiResponseError(msg, peer);
    return sup
      ? new SupervisorUnavailableError(msg, peer)
      : new CloudApiUnavailableError(msg, peer);
  }
  const msg = `${what}: ${e instanceof Error ? e.message : String(e)}`;
  return sup ? new SupervisorResponseError(msg, peer) : new CloudApiResponseError(msg, peer);
}
