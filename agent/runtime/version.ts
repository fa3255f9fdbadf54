// The agent's version, from package.json (the OTA slot's own package.json when running from a slot).
import { createRequire } from 'node:module';

export const VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
