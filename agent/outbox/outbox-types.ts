// The outbox's public vocabulary (options, drops, write failures, stats), in its own file so the modules
// the store is split into (and outbox-events.ts) share it without importing the Outbox class itself.
// Importers keep taking these from outbox.ts, which re-exports them.
import type { Logger } from '../../platform/logger.js';

export interface OutboxOptions {
  dir: string;
  maxBytes: number;
  policy: 'drop-oldest' | 'reject-new';
  segmentBytes: number;
  fsync: 'always' | 'batch';
  fsyncIntervalMs: number;
  checkpointIntervalMs: number;
  readAheadBytes: number;
  logger: Logger;
  /**
   * broker: a message is done at the broker's PUBACK. wms-ack: it is done only when the WMS's cumulative
   * ack for its key (plc/{plc}/ack) covers its seq; until then it is kept and may be sent again.
   */
  delivery?: Delivery;
}

export type Delivery = 'broker' | 'wms-ack';

export interface DropEvent {
  /** disk-full: the file system had no room (ENOSPC/EDQUOT); write-error: any other write failure. */
  reason: 'drop-oldest' | 'reject-new' | 'too-large' | 'corrupt' | 'disk-full' | 'write-error';
  messages: number;
  bytes: number;
  /** For a rejected new message: its key (PLC id). No seq was taken for it. */
  key?: string;
}

/** The outbox cannot write (a full file system): set while it lasts, with the error that started it. */
export interface WriteFailure {
  code: string;
  message: string;
  since: string;
}

export interface OutboxStats {
  messages: number;
  bytes: number;
  dropped: number;
  diskBytes: number;
  oldestTs?: string;
  writeFailure?: WriteFailure;
}

/** One segment file as the store tracks it: records and bytes appended so far. */
export interface Segment {
  id: number;
  size: number;
  count: number;
}
