// The one segment file being appended to, and the fsync policy around it: whether written data is
// still only in the page cache (dirty), the batch fdatasync, undoing a partly written record, and
// old files whose close waits for an fdatasync still running on them.
import { closeSync, fdatasync, fdatasyncSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import type { Logger } from '../../platform/logger.js';

export class ActiveSegment {
  private fd = -1;
  private dirtyData = false;
  private syncingNow = false;
  private fdsToClose: number[] = [];
  /** A failed write could not be undone yet: the file must be cut back to this size first. */
  private rollbackTo: number | undefined;

  constructor(private readonly logger: Logger) {}

  /** Written data not fdatasync'ed yet: a checkpoint must not reference it before it is. */
  get dirty(): boolean {
    return this.dirtyData;
  }

  get syncing(): boolean {
    return this.syncingNow;
  }

  get needsRollback(): boolean {
    return this.rollbackTo !== undefined;
  }

  /** Append to an existing file (the last segment found at open). */
  open(path: string): void {
    this.fd = openSync(path, 'a');
  }

  /**
   * Switch appending to a new file; the previous one is handed back for retire(). Opening comes first:
   * when that fails (a full disk) nothing has changed.
   */
  replace(path: string): number {
    const fd = openSync(path, 'a');
    const old = this.fd;
    this.fd = fd;
    this.dirtyData = false;
    return old;
  }

  /** Make a previous file durable and close it (later, when an async fdatasync is still using it). */
  retire(old: number): void {
    if (old < 0) return;
    try {
      fdatasyncSync(old);
    } catch (e) {
      this.logger.error({ err: (e as Error).message }, 'outbox fsync failed');
    }
    if (this.syncingNow) this.fdsToClose.push(old);
    else closeSync(old);
  }

  /**
   * One write of buf at the end of a file of `size` bytes. If it throws, what was partly written is
   * remembered for rollBack(): nothing may be appended behind a partial record.
   */
  write(buf: Buffer, size: number, fsyncAlways: boolean): void {
    this.rollbackTo = size;
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    if (fsyncAlways) fdatasyncSync(this.fd);
    this.rollbackTo = undefined;
    if (!fsyncAlways) this.dirtyData = true;
  }

  /** Cut the file back to its last whole record (undo a partly written one). */
  rollBack(): void {
    const to = this.rollbackTo!;
    ftruncateSync(this.fd, to);
    this.rollbackTo = undefined;
  }

  syncNow(): void {
    fdatasyncSync(this.fd);
    this.dirtyData = false;
  }

  /** fdatasync off the main loop when dirty (before an async checkpoint); the fd stays open meanwhile. */
  async syncIfDirty(): Promise<void> {
    if (!this.dirtyData) return;
    this.dirtyData = false;
    this.syncingNow = true;
    try {
      await new Promise<void>((resolve, reject) =>
        fdatasync(this.fd, (err) => (err ? reject(err) : resolve())),
      );
    } catch (e) {
      this.dirtyData = true;
      throw e;
    } finally {
      this.syncingNow = false;
      for (const fd of this.fdsToClose.splice(0)) closeSync(fd);
    }
  }

  /** fsync: batch — fdatasync what was written every intervalMs (unref'ed: it never keeps node up). */
  startBatchSync(intervalMs: number): NodeJS.Timeout {
    const t = setInterval(() => {
      if (!this.dirtyData || this.syncingNow) return;
      this.dirtyData = false;
      this.syncingNow = true;
      fdatasync(this.fd, (err) => {
        this.syncingNow = false;
        for (const fd of this.fdsToClose.splice(0)) closeSync(fd);
        if (err) {
          this.dirtyData = true; // try again: the checkpoint must not get ahead of the data
          this.logger.error({ err: err.message }, 'outbox fsync failed');
        }
      });
    }, intervalMs);
    t.unref();
    return t;
  }

  close(): void {
    closeSync(this.fd);
    this.fd = -1;
  }
}
