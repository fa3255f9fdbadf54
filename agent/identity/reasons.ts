// Every word `cert/state` `error` can carry (docs/reason-codes.md lists each once): refusals of a
// `cert/issued` or a `cert/renew`, and why a renewal could not go on.
import { ISSUED_REFUSAL_REASONS } from './issued-check.js';

export const RENEW_REFUSAL_REASONS = [
  'too-large',
  'malformed',
  'unknown-key',
  'bad-alg',
  'bad-signature',
  'missing-claim',
  'lifetime-too-long',
  'expired',
  'not-yet-valid',
  'replayed',
] as const;

export const CERT_STATE_ERRORS = [
  ...new Set([
    ...ISSUED_REFUSAL_REASONS,
    ...RENEW_REFUSAL_REASONS,
    'broker-refused',
    'no-passphrase',
    'renewal-off',
  ]),
] as const;
