// The identity manager's steps run one at a time, in order (a renewal step must never interleave with
// another's writes to the identity store); a failed step is logged and the next one runs. Inbound
// messages are bounded: nothing a stranger publishes may pile up work without limit.
import type { Logger } from '../../platform/logger.js';

/** Inbound cert/issued and cert/renew waiting their turn; a flood beyond this is dropped and counted. */
export const MAX_QUEUED_INBOUND = 16;

export class StepQueue {
  private queue: Promise<void> = Promise.resolve();
  private queuedInbound = 0;
  private droppedInbound = 0;

  constructor(private readonly log: Logger) {}

  run(job: () => Promise<void>): void {
    this.queue = this.queue
      .then(job)
      .catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'identity step failed'));
  }

  /** A step for an inbound message: dropped (and counted) while MAX_QUEUED_INBOUND wait. */
  inbound(job: () => Promise<void>): void {
    if (this.queuedInbound >= MAX_QUEUED_INBOUND) {
      this.droppedInbound++;
      this.log.warn(
        { dropped: this.droppedInbound },
        'identity inbound queue full: message dropped',
      );
      return;
    }
    this.queuedInbound++;
    this.run(async () => {
      this.queuedInbound--;
      await job();
    });
  }

  /** Resolves once the steps queued so far are done. */
  idle(): Promise<void> {
    return this.queue;
  }
}
