// The checkpoint: where the acknowledged prefix of the outbox ends, and the last seq handed out per key.
// Written atomically (tmp + fsync + rename + fsync dir), so a crash leaves the old or the new one, never half.
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../../platform/atomic-file.js';
import { join } from 'node:path';
import { z } from 'zod';

export const CHECKPOINT_FILE = 'checkpoint.json';

const checkpointSchema = z.object({
  version: z.literal(1),
  segment: z.number().int().min(0),
  offset: z.number().int().min(0),
  seqs: z.record(z.string(), z.number().int().min(0)),
});
export type Checkpoint = z.infer<typeof checkpointSchema>;

export class CheckpointError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'CheckpointError';
  }
}
export function isCheckpointError(e: unknown): e is CheckpointError {
  return e instanceof CheckpointError;
}

/** The checkpoint in dir, or undefined when there is none yet. A damaged file is a CheckpointError. */
export function readCheckpoint(dir: string): Checkpoint | undefined {
  const path = join(dir, CHECKPOINT_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CheckpointError(path, `unreadable: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CheckpointError(path, 'not JSON');
  }
  const r = checkpointSchema.safeParse(json);
  if (!r.success)
    throw new CheckpointError(
      path,
      r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  return r.data;
}

export function writeCheckpointSync(dir: string, cp: Checkpoint): void {
  writeFileAtomicSync(join(dir, CHECKPOINT_FILE), JSON.stringify(cp), 0o644);
}
