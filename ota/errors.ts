// Typed OTA errors: callers branch on isOtaRefusal(e) and e.reason, never on message text.

/** Why a bundle or offer was refused. Each reason is recorded in ota/state and the history. */
export const REFUSAL_REASONS = [
  'bad-manifest', // not a manifest we can read (field named in the message)
  // The shared verifier's and trust policy's reasons (platform/signature/errors.ts).
  'bad-signature',
  'bad-alg',
  'unknown-key',
  'revoked-key',
  'key-expired',
  'key-not-yet-valid',
  'policy-expired',
  'wrong-role',
  'out-of-scope',
  'expired',
  'not-yet-valid',
  'counter-not-above', // anti-rollback
  'incompatible-requires', // launcher/image semver range
  'wrong-device-type',
  'not-targeted', // ring or percentage
  'unsafe-path', // traversal, absolute path, link or non-file entry in the tar
  'hash-mismatch',
  'size-mismatch',
  'too-large', // more bytes than announced or than ota.maxBundleBytes
  'base-mismatch', // delta base differs from the active slot: the full bundle is needed
  'busy', // another update is in progress
  'download-failed',
  'install-failed',
  'bad-offer',
  'source-not-allowed', // an unsigned {"url"} offer for a host not in ota.sources
  'timeout', // the download did not finish within ota.downloadDeadlineSeconds
  'duplicate-entry', // the same path twice in the bundle's tar
  'tree-mismatch', // the installed files do not hash to the manifest's treeSha256
  'now-unsigned', // "now": true outside the signed manifest: it may not skip the maintenance window
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export class OtaRefusal extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'OtaRefusal';
  }
}

export function isOtaRefusal(e: unknown): e is OtaRefusal {
  return e instanceof OtaRefusal;
}

/** The data dir's OTA state is unreadable or another process holds the OTA lock. */
export class OtaStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OtaStateError';
  }
}

export function isOtaStateError(e: unknown): e is OtaStateError {
  return e instanceof OtaStateError;
}
