// North apps attached to the core: commands, remote config, OTA, balena, health, HTTP, maintenance.
import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from './logger.js';
import type { Gateway } from './gateway.js';

export interface Services {
  httpPort?: number;
  stop(): Promise<void>;
}

export async function startServices(_ctx: {
  gateway: Gateway;
  rc: ResolvedConfig;
  logger: Logger;
  env: NodeJS.ProcessEnv;
}): Promise<Services> {
  return { stop: async () => {} };
}
