// Binary patches with Debian's xdelta3 (VCDIFF, RFC 3284): proven, streaming, in the image via apt.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Path of the xdelta3 binary; env OTA_XDELTA3 overrides. */
export const XDELTA3 = process.env.OTA_XDELTA3 ?? 'xdelta3';
export class XdeltaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XdeltaError';
  }
}

export function isXdeltaError(e: unknown): e is XdeltaError {
  return e instanceof XdeltaError;
}

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ota-xd-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Patch turning `base` into `target`. -9: best compression; -S djw: secondary compression. */
export async function xdeltaEncode(base: Buffer, target: Buffer): Promise<Buffer> {
  return withTmp(async (dir) => {
    writeFileSync(join(dir, 'base'), base);
    writeFileSync(join(dir, 'target'), target);
    try {
      await run(XDELTA3, [
        '-e',
        '-9',
        '-S',
        'djw',
        '-f',
        '-s',
        join(dir, 'base'),
        join(dir, 'target'),
        join(dir, 'out'),
      ]);
    } catch (e) {
      throw new XdeltaError(`xdelta3 encode failed: ${(e as Error).message.split('\n')[0]}`);
    }
    return readFileSync(join(dir, 'out'));
  });
}

export async function xdeltaDecodeFiles(
  basePath: string,
  patchPath: string,
  outPath: string,
): Promise<void> {
  try {
    await run(XDELTA3, ['-d', '-f', '-s', basePath, patchPath, outPath], {
      maxBuffer: 1024 * 1024,
    });
  } catch (e) {
    throw new XdeltaError(`xdelta3 decode failed: ${(e as Error).message.split('\n')[0]}`);
  }
}

export async function xdeltaDecode(base: Buffer, patch: Buffer): Promise<Buffer> {
  return withTmp(async (dir) => {
    writeFileSync(join(dir, 'base'), base);
    writeFileSync(join(dir, 'patch'), patch);
    await xdeltaDecodeFiles(join(dir, 'base'), join(dir, 'patch'), join(dir, 'out'));
    return readFileSync(join(dir, 'out'));
  });
}
