// The device identity for `diagnose`: is the client key encrypted at rest (and can it be opened with
// WMS_KEY_PASSPHRASE), which certificate is in force, when it expires and where its renewal stands.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GatewayConfig } from '../config/schema.js';
import type { ClientPair } from '../link/tls-material.js';
import type { DiagCheck } from './check.js';
import { IdentityStore } from '../identity/identity-store.js';
import {
  isEncryptedKeyPem,
  isKeyFileError,
  isPemText,
  openPrivateKey,
  readKeyText,
  PASSPHRASE_ENV,
} from '../identity/key-file.js';
import { certInfo, parseCertificates, renewAt } from '../identity/certificate.js';
import type { CertState } from '../identity/identity-manager.js';

/** The renewed pair in force, if any (what `run` connects with instead of wms.tls.cert/key). */
export async function activePair(dataDir: string): Promise<ClientPair | undefined> {
  const store = new IdentityStore(dataDir);
  const a = await store.readActive();
  return a?.current ? store.pairOf(a.current) : undefined;
}

export async function identityChecks(
  config: GatewayConfig,
  dataDir: string,
  passphrase: string | undefined,
): Promise<DiagCheck[]> {
  const tls = config.wms.tls;
  if (!tls.cert || !tls.key)
    return [
      { name: 'identity', status: 'skipped', message: 'no client certificate (mutual TLS off)' },
    ];
  const pair = await activePair(dataDir);
  const keyRef = pair?.key ?? tls.key;
  const where = pair ? 'renewed key' : isPemText(tls.key) ? 'wms.tls.key (inline)' : tls.key;
  const out: DiagCheck[] = [];
  try {
    const text = readKeyText(keyRef, where);
    openPrivateKey(text, passphrase, where);
    if (isEncryptedKeyPem(text))
      out.push({ name: 'identity.key', status: 'ok', message: `${where}: encrypted PKCS#8` });
    else
      out.push({
        name: 'identity.key',
        status: 'warning',
        message: `${where}: private key stored in plaintext`,
        recommendation: isPemText(tls.key)
          ? `Give the key as a file (WMS_KEY=/data/gw.key) and set ${PASSPHRASE_ENV} (a balena device variable): the agent rewrites it encrypted at start.`
          : `Set ${PASSPHRASE_ENV} (a balena device variable) and restart: the agent rewrites the key encrypted.`,
      });
  } catch (e) {
    out.push({
      name: 'identity.key',
      status: 'critical',
      message: (e as Error).message,
      recommendation: isKeyFileError(e)
        ? `Set ${PASSPHRASE_ENV} to the passphrase the key was encrypted with.`
        : 'Fix wms.tls.key (WMS_KEY).',
    });
  }
  out.push(await certificateCheck(config, dataDir, pair));
  return out;
}

async function certificateCheck(
  config: GatewayConfig,
  dataDir: string,
  pair: ClientPair | undefined,
): Promise<DiagCheck> {
  const name = 'identity.certificate';
  let state: CertState | undefined;
  try {
    state = JSON.parse(
      await readFile(join(dataDir, 'identity', 'state.json'), 'utf8'),
    ) as CertState;
  } catch {
    state = undefined;
  }
  const src = pair?.cert ?? config.wms.tls.cert!;
  const info = certInfo(parseCertificates(isPemText(src) ? src : await readFile(src))[0]!);
  if (!state || state.serial !== info.serial) {
    const at = renewAt(info, config.identity);
    state = {
      serial: info.serial,
      subject: info.subject,
      notBefore: info.notBefore.toISOString(),
      notAfter: info.notAfter.toISOString(),
      renewAt: at.toISOString(),
      status:
        Date.now() >= info.notAfter.getTime()
          ? 'expired'
          : Date.now() >= at.getTime()
            ? 'expiring'
            : 'ok',
      phase: 'idle',
      ts: new Date().toISOString(),
    };
  }
  const detail = { ...state } as Record<string, unknown>;
  const base = `${state.subject} serial ${state.serial}, expires ${state.notAfter}, renewal ${state.status}${state.phase !== 'idle' ? ` (${state.phase})` : ''}, renews at ${state.renewAt}`;
  if (state.status === 'expired' || Date.now() >= new Date(state.notAfter).getTime())
    return {
      name,
      status: 'critical',
      message: `client certificate expired: ${base}`,
      recommendation:
        'The broker refuses an expired certificate: check cert/state for why renewal failed, or install a new pair by hand (WMS_CERT, WMS_KEY).',
      detail,
    };
  if (state.error || state.status === 'expiring')
    return {
      name,
      status: 'warning',
      message: `${base}${state.error ? `; last refusal ${state.error}: ${state.detail ?? ''}` : ''}`,
      recommendation: config.identity.renewal
        ? 'Renewal is due or failing: check that the WMS answers cert/csr and that WMS_KEY_PASSPHRASE is set.'
        : 'identity.renewal is off: renew the certificate by hand before it expires.',
      detail,
    };
  return { name, status: 'ok', message: base, detail };
}
