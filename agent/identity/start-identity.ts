// Before the link starts: which client pair to connect with, and are its keys usable? Every key is opened
// first (a wrong or missing WMS_KEY_PASSPHRASE stops the start with an error naming the variable and the
// key, and nothing has been written); only then is an operator's plaintext key file rewritten encrypted.
import { readFileSync } from 'node:fs';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { ClientPair } from '../link/tls-material.js';
import { certInfo, parseCertificates } from './certificate.js';
import { IdentityStore } from './identity-store.js';
import { checkAndMigrateKey, isPemText, openPrivateKey, readKeyText } from './key-file.js';

export interface StartIdentity {
  /** A renewed pair from the identity store; undefined: wms.tls.cert/key. */
  pair: ClientPair | undefined;
}

export async function prepareIdentity(opts: {
  config: GatewayConfig;
  dataDir: string;
  passphrase: string | undefined;
  logger: Logger;
}): Promise<StartIdentity> {
  const { config, passphrase, logger } = opts;
  const tls = config.wms.tls;
  const store = new IdentityStore(opts.dataDir);
  const active = await store.readActive();
  const pending = await store.readPending();
  // 1. Open every stored key: throws KeyFileError before anything is written.
  for (const name of [active?.current?.key, active?.previous?.key, pending?.key])
    if (name)
      openPrivateKey(
        readKeyText(store.path(name), `identity/${name}`),
        passphrase,
        `identity/${name}`,
      );
  if (tls.key) openPrivateKey(readKeyText(tls.key, 'wms.tls.key'), passphrase, 'wms.tls.key');
  // 2. Then migrate the operator's plaintext key file, if a passphrase is set.
  if (tls.key) {
    const k = await checkAndMigrateKey(tls.key, passphrase, 'wms.tls.key');
    if (k.migrated) logger.info({ key: k.location }, 'plaintext client key rewritten encrypted');
    else if (!k.encrypted)
      logger.warn(
        { key: k.location },
        'client key is stored in plaintext: set WMS_KEY_PASSPHRASE (and use a key file) to encrypt it',
      );
  }
  if (!active?.current) return { pair: undefined };
  // An operator who put a newer certificate in wms.tls.cert by hand wins over the renewed one.
  try {
    const stored = certInfo(parseCertificates(readFileSync(store.path(active.current.cert)))[0]!);
    if (tls.cert) {
      const cfg = certInfo(
        parseCertificates(isPemText(tls.cert) ? tls.cert : readFileSync(tls.cert))[0]!,
      );
      if (cfg.notBefore > stored.notBefore) {
        logger.info(
          { configured: cfg.serial, renewed: stored.serial },
          'wms.tls.cert is newer than the renewed certificate: using it',
        );
        await store.writeActive({
          current: null,
          state: 'active',
          since: new Date().toISOString(),
        });
        return { pair: undefined };
      }
    }
  } catch (e) {
    logger.warn(
      { err: (e as Error).message },
      'renewed certificate unreadable: using wms.tls.cert',
    );
    return { pair: undefined };
  }
  return { pair: store.pairOf(active.current) };
}
