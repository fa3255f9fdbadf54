// Opening the outbox after a restart or a crash: the checkpoint (the acknowledged position, the seq
// counters, the WMS-confirmed seqs) and a scan of every segment, which cuts a torn tail, skips damage
// in the middle, raises the seq counters to what is on disk and counts what is still to be delivered.
import { mkdirSync } from 'node:fs';
import type { Logger } from '../../platform/logger.js';
import { isCheckpointError, readCheckpoint } from './checkpoint.js';
import type { Segment } from './outbox-types.js';
import { listSegments } from './segment-files.js';
import { scanSegment } from './segment-scan.js';

export interface Recovered {
  seqs: Map<string, number>;
  /** The WMS-confirmed seqs of the checkpoint (wms-ack mode), if any. */
  wmsAcked: Record<string, number> | undefined;
  ackPos: { segment: number; offset: number };
  /** Records of segment ackPos.segment that lie before ackPos.offset. */
  ackedInAckSegment: number;
  unacked: { messages: number; bytes: number };
  segments: Segment[];
  diskBytes: number;
}

export function recover(dir: string, maxRecordBytes: number, logger: Logger): Recovered {
  mkdirSync(dir, { recursive: true });
  let cp;
  try {
    cp = readCheckpoint(dir);
  } catch (e) {
    if (!isCheckpointError(e)) throw e;
    // Replaying everything again (duplicates) is better than losing anything.
    logger.error({ err: e.message }, 'outbox checkpoint damaged; replaying the whole outbox');
  }
  const r: Recovered = {
    seqs: new Map(Object.entries(cp?.seqs ?? {})),
    wmsAcked: cp?.acked,
    ackPos: { segment: cp?.segment ?? 0, offset: cp?.offset ?? 0 },
    ackedInAckSegment: 0,
    unacked: { messages: 0, bytes: 0 },
    segments: [],
    diskBytes: 0,
  };
  const ids = listSegments(dir);
  if (ids.length > 0 && r.ackPos.segment < ids[0]!) r.ackPos = { segment: ids[0]!, offset: 0 };
  for (const id of ids) {
    const scan = scanSegment(dir, id, r.ackPos, r.seqs, maxRecordBytes, logger);
    r.ackedInAckSegment += scan.ackedInAckSegment;
    r.unacked.messages += scan.unacked.messages;
    r.unacked.bytes += scan.unacked.bytes;
    if (id === r.ackPos.segment && r.ackPos.offset > scan.seg.size) r.ackPos.offset = scan.seg.size;
    r.segments.push(scan.seg);
    r.diskBytes += scan.seg.size;
  }
  return r;
}
