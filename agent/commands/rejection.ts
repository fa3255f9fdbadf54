// Why a command (or a remote config) was refused: a stable code the WMS can branch on, plus text for people.
// The wire form is `code[:subject][ (detail)]`, e.g. `out-of-range:target (1600 > max 1500)`.

export const REJECTION_CODES = [
  'malformed',
  'too-large',
  'unsigned',
  'bad-signature',
  'bad-alg',
  'unknown-key',
  'missing-claim',
  'bad-claim',
  'expired',
  'not-yet-valid',
  'lifetime-too-long',
  'replayed',
  'replay-cache-full',
  'unknown-plc',
  'unknown-tag',
  'not-writable',
  'bad-value',
  'out-of-range',
  'queue-full',
  'stale-version',
  'invalid-config',
] as const;

export type RejectionCode = (typeof REJECTION_CODES)[number];

export class RejectedError extends Error {
  constructor(
    readonly code: RejectionCode,
    readonly subject?: string,
    readonly detail?: string,
  ) {
    super(formatReason(code, subject, detail));
    this.name = 'RejectedError';
  }

  /** The `reason` field of cmd/ack and config/state. */
  get reason(): string {
    return this.message;
  }
}

export function isRejectedError(e: unknown): e is RejectedError {
  return e instanceof RejectedError;
}

export function formatReason(code: RejectionCode, subject?: string, detail?: string): string {
  // Bounded so a hostile payload cannot make the ack itself huge.
  const clip = (s: string, n: number) => (s.length > n ? s.slice(0, n) + '…' : s);
  let r: string = code;
  if (subject !== undefined) r += ':' + clip(subject, 80);
  if (detail) r += ` (${clip(detail, 200)})`;
  return r;
}

/** The stable code of a reason string: the text before the first `:` or space. */
export function reasonCode(reason: string): string {
  return /^[a-z-]+/.exec(reason)?.[0] ?? reason;
}
