// Recovery at open: reading one segment file back after a restart or crash. A torn tail (a record cut
// by the crash) is truncated away, damage in the middle is skipped, and the records found restore the
// seq counters and the count of what is still unacknowledged.
import { closeSync, fdatasyncSync, ftruncateSync, openSync, statSync } from 'node:fs';
import type { Logger } from '../../platform/logger.js';
import { segmentPath, SegmentReader } from './segment-files.js';
import type { Segment } from './outbox-types.js';

export interface SegmentScan {
  seg: Segment;
  /** Records past the acknowledged position: still to be delivered. */
  unacked: { messages: number; bytes: number };
  /** Records of this segment before ackPos.offset when it is the acknowledged position's segment. */
  ackedInAckSegment: number;
}

/**
 * Scan segment id of dir. `seqs` is raised to the highest seq seen per key; `ackPos` is where the
 * checkpoint says the acknowledged prefix ends (its offset is not changed here: see the caller).
 */
export function scanSegment(
  dir: string,
  id: number,
  ackPos: { segment: number; offset: number },
  seqs: Map<string, number>,
  maxRecordBytes: number,
  logger: Logger,
): SegmentScan {
  const path = segmentPath(dir, id);
  const size = statSync(path).size;
  const reader = new SegmentReader(path, 0, size, maxRecordBytes);
  const seg: Segment = { id, size, count: 0 };
  const unacked = { messages: 0, bytes: 0 };
  let ackedInAckSegment = 0;
  try {
    for (;;) {
      const step = reader.next();
      if (step.kind === 'end') break;
      if (step.kind === 'gap') {
        // Records after the damage are valid and were accepted: skip the damage, keep them.
        logger.warn(
          {
            segment: id,
            offset: step.offset,
            skippedBytes: step.end - step.offset,
            reason: step.reason,
          },
          'outbox: damaged record skipped, the records after it kept',
        );
        continue;
      }
      if (step.kind === 'corrupt') {
        logger.warn(
          { segment: id, offset: step.offset, cutBytes: size - step.offset, reason: step.reason },
          'outbox: torn or corrupt tail cut off',
        );
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, step.offset);
        fdatasyncSync(fd);
        closeSync(fd);
        seg.size = step.offset;
        break;
      }
      const r = step.record;
      seg.count++;
      if (r.seq > (seqs.get(r.key) ?? 0)) seqs.set(r.key, r.seq);
      const acked = id < ackPos.segment || (id === ackPos.segment && step.end <= ackPos.offset);
      if (acked) {
        if (id === ackPos.segment) ackedInAckSegment++;
      } else {
        unacked.messages++;
        unacked.bytes += step.end - step.offset;
      }
    }
  } finally {
    reader.close();
  }
  return { seg, unacked, ackedInAckSegment };
}
