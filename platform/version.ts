// The agent's version, from the package.json of the tree this module runs from: the checkout (tsx),
// dist/ of a build, or an OTA slot. Walks up because dist/ moves the module one level deeper.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function findPackageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (
      existsSync(candidate) &&
      (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'wms-gateway'
    )
      return dir;
    if (dirname(dir) === dir) throw new Error(`no wms-gateway package.json above ${from}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot();
export const VERSION: string = (
  JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
