// What the outbox's troubles look like to the WMS: alerts for a full disk or failing writes (and their
// end), for dropped readings (summarised by the drop reporter), and for a bound the file system cannot
// hold. The outbox itself only counts and emits; turning that into alerts is the link's job.
import type { Outbox, WriteFailure } from '../outbox/outbox.js';
import { outboxCapacity } from '../outbox/capacity.js';
import type { Logger } from '../../platform/logger.js';
import { DropReporter, describeDrops, type DropSummary } from './drop-reporter.js';

export type AlertFn = (
  level: 'warning' | 'critical',
  code: string,
  message: string,
  extra?: object,
) => void;

/** Alert on the outbox's drops and write failures; returns the drop reporter (flushed at stop). */
export function watchOutbox(
  outbox: Outbox,
  alert: AlertFn,
  on: { failure: (f: WriteFailure) => void; recovered: (f: WriteFailure) => void },
): DropReporter {
  const drops = new DropReporter((s: DropSummary) => {
    const total = outbox.stats().dropped;
    alert('critical', `outbox.${s.reason}`, describeDrops(s, total), {
      dropped: s.messages,
      droppedTotal: total,
      plcs: s.keys,
    });
  });
  outbox.on('dropped', (e) => drops.add(e));
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
  return drops;
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
