// OTA's crash-safe file operations: state, counters and slot markers replaced atomically (world-readable,
// as the slots' code is), and whole directories swapped by rename.
import { renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDirSync, writeFileAtomicSync } from '../../agent/storage/atomic-file.js';

export { fsyncDirSync as fsyncDir };

export function writeFileAtomic(path: string, data: string | Buffer): void {
  writeFileAtomicSync(path, data, 0o644);
}

/** Replace directory `to` by `from` (rename), fsyncing the parent. The old `to` is removed first. */
export function replaceDir(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  renameSync(from, to);
  fsyncDirSync(dirname(to));
}
