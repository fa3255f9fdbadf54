// The `sparkplug` config section (CONTRACT.md §9); it matters only with wms.format: sparkplug-b.
import { z } from 'zod';

export const sparkplugSchema = z
  .strictObject({
    commands: z
      .boolean()
      .default(false)
      .describe(
        'Accept DCMD writes (unsigned: anyone who may publish on the broker); they pass the same writable/min/max checks as signed commands',
      ),
    primaryHostId: z
      .string()
      .regex(/^[^/+#]{1,128}$/, 'must be 1-128 characters without / + #')
      .optional()
      .describe(
        'Follow this primary host application on spBv1.0/STATE/{id}: no births or data while it is offline (data waits in the outbox and is sent as historical afterwards)',
      ),
    deathCheckMs: z
      .number()
      .int()
      .min(50)
      .max(60_000)
      .default(500)
      .describe(
        'A PLC that went down gets its DDEATH once the data it sent before is out; how often that is checked',
      ),
  })
  .prefault({})
  .describe(
    'Sparkplug B edge node settings (used with wms.format: sparkplug-b; docs/sparkplug.md)',
  );
