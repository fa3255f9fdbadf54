// Where OTA keeps its files under $DATA_DIR (docs/ota.md §Files on the device).
import { findPackageRoot } from '../../platform/version.js';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type SlotName = 'factory' | 'a' | 'b';

export interface OtaPaths {
  root: string;
  state: string;
  counter: (target: 'agent' | 'plc-map') => string;
  lock: string;
  slot: (s: 'a' | 'b') => string;
  staging: (s: 'a' | 'b') => string;
  downloads: string;
  work: string;
  configBackup: string;
  plcMapDir: string;
}

export function otaPaths(dataDir: string): OtaPaths {
  const root = join(dataDir, 'ota');
  return {
    root,
    state: join(root, 'state.json'),
    // Anti-rollback counters live outside the slots so no slot content can lower them.
    counter: (t) => join(root, t === 'agent' ? 'counter' : 'counter.plc-map'),
    lock: join(root, 'lock'),
    slot: (s) => join(root, 'slots', s),
    staging: (s) => join(root, 'slots', `${s}.staging`),
    downloads: join(root, 'downloads'),
    work: join(root, 'work'),
    configBackup: join(root, 'config-backup'),
    plcMapDir: join(root, 'plc-map'),
  };
}

/**
 * The image's own build, the factory slot that always remains: env OTA_FACTORY_DIR, else the nearest
 * directory above this module holding package.json (the project root, also from dist/).
 */
export function factoryDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OTA_FACTORY_DIR) return resolve(env.OTA_FACTORY_DIR);
  return findPackageRoot(dirname(fileURLToPath(import.meta.url)));
}

/** Version of the image (factory package.json), what `requires.image` is checked against. */
export function imageVersion(factory: string): string {
  try {
    const v = (
      JSON.parse(readFileSync(join(factory, 'package.json'), 'utf8')) as { version?: unknown }
    ).version;
    return typeof v === 'string' ? v : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function slotDir(paths: OtaPaths, factory: string, s: SlotName): string {
  return s === 'factory' ? factory : paths.slot(s);
}

/** The program a slot runs: <slot>/bin/wms-gateway.js. */
export function slotEntry(paths: OtaPaths, factory: string, s: SlotName): string {
  return join(slotDir(paths, factory, s), 'bin', 'wms-gateway.js');
}
