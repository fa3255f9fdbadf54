// A small file system of its own for a test (a full disk without filling the machine's): tmpfs mounted
// on a fresh directory. Needs root (CI runs as root); elsewhere the test is skipped with the reason.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  path: string;
  cleanup: () => void;
}

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
export function tmpfsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root (CI runs as root)';
  return undefined;
}

export function mountTmpfs(sizeBytes: number, prefix = 'wmsgw-tmpfs-'): Tmpfs {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const r = spawnSync(
    'mount',
    ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', path],
    {
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) {
    rmSync(path, { recursive: true, force: true });
    throw new Error(`mount -t tmpfs failed: ${r.stderr || r.error?.message}`);
  }
  return {
    path,
    cleanup: () => {
      // Lazy unmount: a child still holding a file open must not leave the mount behind.
      spawnSync('umount', ['-l', path]);
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/** Write a file until the file system is full (ENOSPC); returns the bytes written. */
export function fillUp(file: string): number {
  const fd = openSync(file, 'a');
  let total = 0;
  try {
    for (const chunk of [1024 * 1024, 64 * 1024, 4096, 512, 64, 1]) {
      const buf = Buffer.alloc(chunk, 0x5a);
      for (;;) {
        try {
          total += writeSync(fd, buf);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}
