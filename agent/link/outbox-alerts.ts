// What the outbox's troubles look like to the WMS: alerts for a full disk or failing writes (and their
// end), for dropped readings (summarised by the drop reporter), and for a bound the file system cannot
// hold. The outbox itself only counts and emits; turning that into alerts is the link's job.
// Drops at the bound are alerted as `outbox-full` (CONTRACT §10) with the policy in `reason`.
import type { Outbox, WriteFailure } from '../outbox/outbox.js';
import { outboxCapacity } from '../outbox/capacity.js';
import type { Logger } from '../../platform/logger.js';
import { DropReporter, describeDrops, type DropSummary } from './drop-reporter.js';
import { OutboxFullState, type OutboxFull } from './outbox-full.js';
import type { AlertFn } from './wms-link-types.js';

export interface OutboxWatch {
  /** Drop summaries, flushed at stop. */
  drops: DropReporter;
  /** Whether the bound is costing readings now (CONTRACT §10). */
  full: OutboxFullState;
}

/** Alert on the outbox's drops, its bound and write failures. */
export function watchOutbox(
  outbox: Outbox,
  alert: AlertFn,
  on: {
    failure: (f: WriteFailure) => void;
    recovered: (f: WriteFailure) => void;
    full: (s: OutboxFull | undefined) => void;
  },
): OutboxWatch {
  const drops = new DropReporter((s: DropSummary) => {
    const total = outbox.stats().dropped;
    const bound = s.reason === 'drop-oldest' || s.reason === 'reject-new';
    alert('critical', bound ? 'outbox-full' : `outbox.${s.reason}`, describeDrops(s, total), {
      ...(bound && { reason: s.reason }),
      dropped: s.messages,
      droppedTotal: total,
      plcs: s.keys,
    });
  });
  const full = new OutboxFullState({
    messages: () => outbox.stats().messages,
    started: (s) => on.full(s),
    ended: (s, lastDropAt) => {
      alert(
        'warning',
        'outbox-ok',
        `outbox below its bound again: ${s.dropped} messages dropped by ${s.policy} since ${s.since}`,
        { since: s.since, lastDrop: lastDropAt.toISOString(), dropped: s.dropped },
      );
      on.full(undefined);
    },
  });
  outbox.on('dropped', (e) => {
    full.onDrop(e);
    drops.add(e);
  });
  outbox.on('write-failure', (f: WriteFailure) => {
    const full = f.code === 'ENOSPC' || f.code === 'EDQUOT';
    alert(
      'critical',
      full ? 'disk-full' : 'outbox-write-failed',
      `${full ? 'file system of the outbox is full' : 'outbox cannot write'} (${f.code}): new readings are dropped until it can write again`,
      { errno: f.code },
    );
    on.failure(f);
  });
  outbox.on('write-recovered', (f: WriteFailure) => {
    const dropped = outbox.stats().dropped;
    alert('warning', 'disk-ok', `outbox writing again since ${f.since} failure (${f.code})`, {
      since: f.since,
      droppedTotal: dropped,
    });
    on.recovered(f);
  });
  return { drops, full };
}

/** An outbox bound the file system cannot hold is reported at start (and on reconfigure). */
export function checkOutboxCapacity(
  dir: string,
  maxBytes: number,
  outbox: Outbox,
  alert: AlertFn,
  log: Logger,
): void {
  try {
    const c = outboxCapacity(dir, maxBytes, outbox.stats().diskBytes);
    if (c.fits) return;
    alert('warning', 'outbox-bound-exceeds-disk', c.message, {
      maxBytes: c.maxBytes,
      availableBytes: c.availableBytes,
      fsBytes: c.fsBytes,
    });
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'outbox capacity could not be checked');
  }
}
