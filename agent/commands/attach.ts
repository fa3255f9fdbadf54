// One call to attach the command path and remote config to the gateway core: audit log, CommandService
// on `cmd`, RemoteConfigService on `config/set` (apply = the core's hot apply + new command settings,
// confirmed by the WMS link coming up when `wms` changed).
import { join } from 'node:path';
import type { GatewayConfig } from '../config/schema.js';
import type { Env } from '../config/load.js';
import type { Logger } from '../../platform/logger.js';
import { AuditLog } from '../audit/audit-log.js';
import {
  RemoteConfigService,
  type StatePublisher,
} from '../remote-config/remote-config-service.js';
import { confirmLinkUp } from '../remote-config/confirm-link.js';
import {
  CommandService,
  type CommandTargets,
  type EventPublisher,
  type UpdateLock,
} from './command-service.js';

/** What of the core is needed (agent/runtime/gateway.ts's Gateway fits). */
export interface CommandHost {
  readonly pollers: CommandTargets;
  readonly link: EventPublisher &
    StatePublisher & {
      subscribe(subtopic: string, handler: (payload: Buffer) => void): void;
      stats(): { connected: boolean };
    };
  applyConfig(config: GatewayConfig): Promise<void>;
}

export interface CommandServices {
  commands: CommandService;
  remote: RemoteConfigService;
  audit: AuditLog;
  stop(): Promise<void>;
}

export async function attachCommandServices(ctx: {
  host: CommandHost;
  /** The config in force (as validated at start, env applied). */
  config: GatewayConfig;
  dataDir: string;
  logger: Logger;
  /** The balena update lock (agent/balena/update-lock.ts), held while writes are in flight. */
  lock?: UpdateLock;
  /** Env vars that win over any config (CONTRACT.md §2), applied to remote configs too. */
  env?: Env;
}): Promise<CommandServices> {
  const { host, config, dataDir, logger } = ctx;
  const audit = await AuditLog.open(join(dataDir, 'audit'), config.commands.audit);
  const commands = await CommandService.create({
    settings: config.commands,
    dataDir,
    pollers: host.pollers,
    link: host.link,
    audit,
    logger,
    ...(ctx.lock ? { lock: ctx.lock } : {}),
  });
  const remote = await RemoteConfigService.create({
    current: config,
    dataDir,
    apply: async (next) => {
      await host.applyConfig(next);
      await commands.reconfigure(next.commands);
    },
    confirm: (next, prev) =>
      confirmLinkUp(host.link, next.commands.configConfirmSeconds * 1000)(next, prev),
    link: host.link,
    audit,
    logger,
    ...(ctx.env ? { env: ctx.env } : {}),
  });
  host.link.subscribe('cmd', (payload) => void commands.handle(payload));
  host.link.subscribe('config/set', (payload) => void remote.handle(payload));
  return {
    commands,
    remote,
    audit,
    async stop() {
      await commands.close();
      await audit.close();
    },
  };
}
