// `cert/renew`: a compact JWS of {"id","iat","exp"} asking for a renewal now. The signature is checked by
// the verifier the caller hands in (the keys that may sign commands, or the `identity` role of the trust
// chain); here: the claims, their lifetime and replays.

export class RenewRefusal extends Error {
  constructor(
    readonly reason: string,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'RenewRefusal';
  }
}
export function isRenewRefusal(e: unknown): e is RenewRefusal {
  return e instanceof RenewRefusal;
}

/** Verifies the JWS signature (throws with a `code` on refusal) and returns its payload. */
export type RenewVerifier = (jws: string) => Promise<{ kid: string; payload: Uint8Array }>;

/** The longest exp - iat a renew request may have. */
export const MAX_RENEW_LIFETIME_S = 3600;
const MAX_REMEMBERED = 1000;

export class RenewRequests {
  /** id -> exp (s): a request is refused as replayed until its exp has passed. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly verify: RenewVerifier,
    private readonly toleranceS: number,
  ) {}

  /** Throws RenewRefusal; returns the request id. */
  async check(payload: Buffer, nowMs = Date.now()): Promise<{ id: string; kid: string }> {
    if (payload.length > 16 * 1024) throw new RenewRefusal('too-large', `${payload.length} bytes`);
    let v: { kid: string; payload: Uint8Array };
    try {
      v = await this.verify(payload.toString('utf8').trim());
    } catch (e) {
      // The verifier's own reason words (kebab-case), as on cmd/ack.
      const err = e as { reason?: unknown; code?: unknown };
      const code = String(err.reason ?? err.code ?? 'bad-signature').replace(/_/g, '-');
      throw new RenewRefusal(code, (e as Error).message);
    }
    let claims: { id?: unknown; iat?: unknown; exp?: unknown };
    try {
      claims = JSON.parse(Buffer.from(v.payload).toString('utf8')) as typeof claims;
    } catch {
      throw new RenewRefusal('malformed', 'payload is not JSON');
    }
    const { id, iat, exp } = claims ?? {};
    if (typeof id !== 'string' || id === '' || id.length > 200)
      throw new RenewRefusal('missing-claim', 'id must be a non-empty string');
    if (typeof iat !== 'number' || typeof exp !== 'number')
      throw new RenewRefusal('missing-claim', 'iat and exp must be numbers (seconds)');
    const now = nowMs / 1000;
    if (exp < iat || exp - iat > MAX_RENEW_LIFETIME_S)
      throw new RenewRefusal(
        'lifetime-too-long',
        `exp - iat must be within 0..${MAX_RENEW_LIFETIME_S} s`,
      );
    if (now > exp + this.toleranceS) throw new RenewRefusal('expired', `expired at ${exp}`);
    if (iat > now + this.toleranceS)
      throw new RenewRefusal('not-yet-valid', `iat ${iat} is in the future`);
    for (const [k, e] of this.seen) if (e + this.toleranceS < now) this.seen.delete(k);
    if (this.seen.has(id)) throw new RenewRefusal('replayed', `request ${id} was already used`);
    if (this.seen.size >= MAX_REMEMBERED) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(id, exp);
    return { id, kid: v.kid };
  }
}
