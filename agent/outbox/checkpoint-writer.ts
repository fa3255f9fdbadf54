// When the checkpoint is written, and that an older one never lands after a newer one. Synchronous
// writes are for the moments the checkpoint must name a later position before files go (compaction,
// drop-oldest, close); the periodic one runs off the main loop so a slow disk never stalls polling.
import type { Logger } from '../../platform/logger.js';
import { type Checkpoint, writeCheckpointAsync, writeCheckpointSync } from './checkpoint.js';

export class CheckpointWriter {
  /** The acknowledged position or a confirmed seq moved since the last checkpoint. */
  dirty = false;
  /** Bumped by every synchronous checkpoint: an async one started before it must not land after it. */
  private gen = 0;
  private writing = false;
  private failing = false;

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  /** An async checkpoint is under way (the periodic tick does not start another). */
  get running(): boolean {
    return this.writing;
  }

  /** The caller has made the data it references durable first. Throws when it cannot be written. */
  writeSync(cp: Checkpoint): void {
    this.gen++;
    writeCheckpointSync(this.dir, cp);
    this.dirty = false;
  }

  /**
   * The periodic checkpoint: cp is taken now, syncData() makes the data it may reference durable, and
   * it is discarded when a synchronous one was written meanwhile or isOpen() turned false.
   */
  async writeAsync(
    cp: Checkpoint,
    syncData: () => Promise<void>,
    isOpen: () => boolean,
  ): Promise<void> {
    this.writing = true;
    this.dirty = false;
    const gen = this.gen;
    try {
      await syncData();
      await writeCheckpointAsync(this.dir, cp, () => isOpen() && gen === this.gen);
      if (this.failing) {
        this.failing = false;
        this.logger.info('outbox checkpoint written again');
      }
    } catch (e) {
      this.dirty = true;
      this.failed(e);
    } finally {
      this.writing = false;
    }
  }

  failed(e: unknown): void {
    // Once per failing streak: on a full disk this would otherwise log every interval.
    if (this.failing) return;
    this.failing = true;
    this.logger.error({ err: (e as Error).message }, 'outbox checkpoint failed');
  }
}
