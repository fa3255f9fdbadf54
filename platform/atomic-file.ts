// Replace a file so that after a power cut it holds either the old or the new content, never a mix:
// write a temp file, fsync it, rename over the target, fsync the directory. Used for every piece of
// state that must survive a crash: the agent's (applied config, replay cache, backups, integrity
// records, outbox checkpoint) and OTA's (state, counters, slot markers, whole slot directories).
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Mode defaults to 0600: configs and state may hold secrets. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  await fsyncDir(dir);
}

/** Make a rename or a new file in dir durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * The same, synchronous: for writers that must not interleave with other work (the outbox checkpoint,
 * the OTA state machine and launcher, the rollout CLI's state).
 */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode = 0o600): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDirSync(dir);
}

/** For files that hold no secret and that other users may read (OTA state and slots' code). */
export const WORLD_READABLE = 0o644;

export function fsyncDirSync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replace directory `to` by `from` (rename), fsyncing the parent. The old `to` is removed first. */
export function replaceDirSync(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  renameSync(from, to);
  fsyncDirSync(dirname(to));
}
