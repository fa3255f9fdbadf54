// The `trust` section: the roots (set only here or by GATEWAY_TRUST_ROOTS, never by config/set) and the
// bounds of trust policies. docs/trust.md is the runbook.
import { z } from 'zod';
import { jwkSchema } from '../../platform/config-fields.js';

export const trustSchema = z
  .strictObject({
    roots: z
      .array(jwkSchema)
      .max(16)
      .default([])
      .describe(
        'Root public keys (JWK, ES256 or EdDSA) that sign trust policies; env GATEWAY_TRUST_ROOTS (a JSON array) wins',
      ),
    threshold: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe('Distinct roots that must sign a trust policy, until a policy sets its own'),
    maxPolicyBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024)
      .default(64 * 1024)
      .describe('Largest trust/set payload accepted'),
    clockToleranceSeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(300)
      .describe('Clock skew allowed on a policy’s and a delegated key’s iat/nbf/exp'),
    alertDays: z
      .array(z.number().int().min(1).max(365))
      .max(4)
      .default([30, 7])
      .describe(
        'Days before the policy or a delegated key expires when an alert goes out (the last one critical)',
      ),
  })
  .prefault({});

export type TrustSettings = z.output<typeof trustSchema>;
