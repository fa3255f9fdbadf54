// Progress of long work (hashing and packing a bundle tree, making or restoring a backup): the work
// reports what it has done, the CLI decides how to show it. Shared by ota/ and agent/, so it lives here.

export interface ProgressEvent {
  /** What is being done now ("hashing", "compressing", "copying" ...); a new phase starts a new count. */
  phase: string;
  done: number;
  total: number;
  unit: 'files' | 'bytes';
}

export type OnProgress = (e: ProgressEvent) => void;

/** Sizes → a progress callback that counts bytes across a list, for loops that handle file by file. */
export function byteCounter(
  phase: string,
  sizes: readonly number[],
  onProgress: OnProgress | undefined,
): (bytes: number) => void {
  const total = sizes.reduce((n, s) => n + s, 0);
  let done = 0;
  onProgress?.({ phase, done, total, unit: 'bytes' });
  return (bytes) => {
    done += bytes;
    onProgress?.({ phase, done, total, unit: 'bytes' });
  };
}
