// Device side of `wms-gateway ota`: status, history, rollback, install against the local data dir.
// The CLI (agent/cli/ota-command.ts) resolves the data dir and the config and hands them in.
import { existsSync } from 'node:fs';
import type { OtaConfig } from '../config/schema.js';
import { createLogger } from '../../platform/logger.js';
import { statePayload } from '../agent/state-payload.js';
import { withOtaLock } from './op-lock.js';
import { factoryDir, imageVersion, otaPaths, slotEntry } from './paths.js';
import { rollBack } from './slot-switch.js';
import { loadState } from './state-store.js';
import { runUpdate } from './updater.js';

export async function deviceStatus(dir: string, json: boolean): Promise<string> {
  const factory = factoryDir();
  const p = statePayload(loadState(otaPaths(dir)), imageVersion(factory));
  if (json) return JSON.stringify(p, null, 2) + '\n';
  const slot = (n: 'a' | 'b') => {
    const x = p.slots[n];
    return x
      ? `${x.name} ${x.version} (counter ${x.counter}, installed ${x.installedAt})`
      : 'empty';
  };
  return (
    [
      `active   ${p.active}`,
      `phase    ${p.phase}${p.progress && p.phase === 'Downloading' ? ` ${Math.round(p.progress * 100)}%` : ''}`,
      `factory  ${p.slots.factory.version} (${factory})`,
      `slot a   ${slot('a')}`,
      `slot b   ${slot('b')}`,
      ...(p.update ? [`update   ${p.update.id}`] : []),
      ...(p.plcMap
        ? [`plc map  ${p.plcMap.name} ${p.plcMap.version} (counter ${p.plcMap.counter})`]
        : []),
      ...(p.error ? [`error    ${p.error.reason}: ${p.error.message}`] : []),
    ].join('\n') + '\n'
  );
}

export async function deviceHistory(dataDir: string, json: boolean): Promise<string> {
  const s = loadState(otaPaths(dataDir));
  if (json) return JSON.stringify(s.history, null, 2) + '\n';
  if (!s.history.length) return 'no OTA history\n';
  return (
    s.history
      .map(
        (h) =>
          `${h.ts}  ${h.from} → ${h.to}  [${h.active}]${h.update ? ` ${h.update}` : ''}${h.reason ? ` (${h.reason})` : ''}  ${h.message}`,
      )
      .join('\n') + '\n'
  );
}

export async function deviceRollback(dataDir: string): Promise<string> {
  const paths = otaPaths(dataDir);
  const factory = factoryDir();
  return withOtaLock(paths.lock, 'cli rollback', () => {
    const s = loadState(paths);
    const from = s.active;
    rollBack(
      paths,
      s,
      'manual',
      'rollback requested with wms-gateway ota rollback',
      (slot) => slot === 'factory' || existsSync(slotEntry(paths, factory, slot)),
    );
    return `rolled back from slot ${from} to ${s.active}; the launcher restarts the agent in it\n`;
  });
}

/** What an install needs of the loaded config. */
export interface InstallContext {
  dataDir: string;
  gatewayId: string;
  ota: OtaConfig;
  /** The config file (backed up before the install). */
  configPath: string;
}

export async function deviceInstall(
  src: string,
  r: InstallContext,
): Promise<{ text: string; ok: boolean }> {
  const factory = factoryDir();
  const c = r.ota;
  const s = await runUpdate(
    {
      dataDir: r.dataDir,
      factory,
      keys: c.keys,
      maxBundleBytes: c.maxBundleBytes,
      facts: {
        gatewayId: r.gatewayId,
        imageVersion: imageVersion(factory),
        deviceType: c.deviceType ?? process.env.BALENA_DEVICE_TYPE,
        ring: c.ring,
      },
      configPath: existsSync(r.configPath) ? r.configPath : undefined,
      logger: createLogger({ name: 'wms-gateway-ota', level: process.env.LOG_LEVEL ?? 'warn' }),
    },
    /^https?:\/\//.test(src) ? { url: src } : { file: src },
  );
  if (s.phase === 'Failed')
    return { text: `refused: ${s.error?.reason}: ${s.error?.message}\n`, ok: false };
  return {
    text: `${s.update?.id} installed in slot ${s.update?.slot}; phase ${s.phase} (the launcher switches to it)\n`,
    ok: true,
  };
}
