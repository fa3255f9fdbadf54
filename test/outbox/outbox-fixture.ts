// The outbox as outbox tests make it: real files in `dir`, small segments so rotation and limits are
// reached with a few thousand records, a silent logger; each test overrides what it is about.
import { Outbox, type OutboxOptions } from '../../agent/outbox/outbox.js';
import { createLogger } from '../../platform/logger.js';

const logger = createLogger({ level: 'silent' });

export function makeOutbox(dir: string, o: Partial<OutboxOptions> = {}): Outbox {
  return new Outbox({
    dir,
    maxBytes: 8 * 1024 ** 2,
    policy: 'drop-oldest',
    segmentBytes: 64 * 1024,
    fsync: 'batch',
    fsyncIntervalMs: 20,
    checkpointIntervalMs: 50,
    readAheadBytes: 64 * 1024,
    logger,
    ...o,
  });
}
