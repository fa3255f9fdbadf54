// Attach certificate renewal to the running gateway: only with mutual TLS to a real broker. cert/renew is
// verified with the keys that may sign commands (commands.keys); the trust chain's `identity` role
// replaces this verifier once it exists.
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../../platform/logger.js';
import { KeySet } from '../commands/key-set.js';
import { verifyCompactJws } from '../commands/verify-jws.js';
import { IdentityManager, type CertState, type IdentityLink } from './identity-manager.js';
import type { RenewVerifier } from './renew-request.js';

export interface AttachedIdentity {
  state(): CertState | undefined;
  stop(): Promise<void>;
}

export async function attachIdentity(ctx: {
  link: IdentityLink;
  config: GatewayConfig;
  gatewayId: string;
  dataDir: string;
  passphrase: string | undefined;
  logger: Logger;
}): Promise<AttachedIdentity> {
  const { config } = ctx;
  if (!IdentityManager.applies(config.wms.tls) || config.wms.urls.length === 0)
    return { state: () => undefined, stop: async () => {} };
  const keys = await KeySet.load(config.commands.keys);
  const verifyRenew: RenewVerifier = async (jws) => {
    const v = await verifyCompactJws(jws, keys);
    return { kid: v.kid, payload: v.payload };
  };
  const manager = new IdentityManager({
    link: ctx.link,
    config: config.identity,
    tls: config.wms.tls,
    gatewayId: ctx.gatewayId,
    dataDir: ctx.dataDir,
    passphrase: ctx.passphrase,
    logger: ctx.logger,
    verifyRenew,
  });
  await manager.start();
  return { state: () => manager.state(), stop: () => manager.stop() };
}
