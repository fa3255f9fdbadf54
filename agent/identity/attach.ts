// Attach certificate renewal to the running gateway: only with mutual TLS to a real broker. cert/renew is
// verified by the trust authority: a delegated key with the `identity` role, or a root (CONTRACT §7).
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { TrustAuthority } from '../trust/trust-authority.js';
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
  trust: TrustAuthority;
}): Promise<AttachedIdentity> {
  const { config } = ctx;
  if (!IdentityManager.applies(config.wms.tls) || config.wms.urls.length === 0)
    return { state: () => undefined, stop: async () => {} };
  // The verifier's reason (unknown-key, wrong-role, revoked-key ...) becomes cert/state's error.
  const verifyRenew: RenewVerifier = async (jws) => {
    const v = await ctx.trust.verify(jws, 'identity', { allowRoot: true });
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
