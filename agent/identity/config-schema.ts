// `identity:` section of the config: when and how the client certificate renews itself over MQTT
// (CONTRACT.md §7). The private key's passphrase is never config: it comes from WMS_KEY_PASSPHRASE.
import { z } from 'zod';
import { sizeSchema } from '../../platform/config-fields.js';

export const identitySchema = z
  .strictObject({
    renewal: z
      .boolean()
      .default(true)
      .describe(
        'Renew the client certificate over MQTT (cert/csr, cert/issued) when mutual TLS is configured',
      ),
    issuerCa: z
      .string()
      .optional()
      .describe(
        'CA(s) an issued certificate must chain to: PEM text or a file path; default wms.tls.ca',
      ),
    renewBeforeDays: z
      .number()
      .min(0)
      .max(3650)
      .optional()
      .describe(
        'Renew this many days before expiry (the earlier of this and renewAtFraction wins)',
      ),
    renewAtFraction: z
      .number()
      .min(0.05)
      .max(0.99)
      .default(2 / 3)
      .describe(
        'Renew when this share of the certificate lifetime has passed (default two thirds)',
      ),
    retryMinSeconds: z
      .number()
      .min(0.1)
      .max(86_400)
      .default(30)
      .describe('First wait before the CSR is sent again while the WMS does not answer'),
    retryMaxSeconds: z
      .number()
      .min(1)
      .max(7 * 86_400)
      .default(3600)
      .describe('Cap of the exponential backoff between CSR retries and after a refused renewal'),
    brokerRefusals: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(2)
      .describe(
        'Connection attempts the broker may refuse with a new certificate before the old pair is taken back',
      ),
    maxIssuedBytes: sizeSchema(1024, 1024 ** 2)
      .default(64 * 1024)
      .describe('Largest cert/issued payload accepted (certificate plus chain, default 64KiB)'),
    maxChainLength: z
      .number()
      .int()
      .min(0)
      .max(8)
      .default(4)
      .describe('Intermediate certificates accepted in a cert/issued chain'),
    clockToleranceSeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(60)
      .describe('Clock skew allowed on an issued certificate notBefore and on cert/renew iat/exp'),
  })
  .prefault({});

export type IdentityConfig = z.output<typeof identitySchema>;
