// What a delegated key may be trusted for (CONTRACT.md §6).
export const ROLES = ['commands', 'config', 'ota', 'identity'] as const;
export type Role = (typeof ROLES)[number];

/** OTA targets a key with role `ota` may sign for. */
export const TARGETS = ['agent', 'plc-map'] as const;
export type Target = (typeof TARGETS)[number];
