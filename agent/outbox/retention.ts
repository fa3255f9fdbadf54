// What leaves the outbox's disk: segments wholly acknowledged (compaction), and under maxBytes the
// policy's choice — drop-oldest drops the oldest segment (counted and reported), reject-new refuses
// the new record. The checkpoint always names a later position before any file is deleted.
import { unlinkSync } from 'node:fs';
import { fsyncDirSync } from '../../platform/atomic-file.js';
import type { DropEvent, OutboxOptions } from './outbox-types.js';
import { segmentPath } from './segment-files.js';
import type { StoreState } from './store-state.js';

export interface RetentionHost {
  opts(): Pick<OutboxOptions, 'dir' | 'maxBytes' | 'policy'>;
  startSegment(id: number): void;
  /** Synchronous and durable; throws when it cannot be written (then nothing may change). */
  writeCheckpoint(pos?: { segment: number; offset: number }): void;
  /** The delivery window forgets segment segId and older and reads on at nextId. */
  dropThrough(segId: number, nextId: number): void;
  recordDrop(ev: DropEvent): void;
}

export class Retention {
  constructor(
    private readonly st: StoreState,
    private readonly host: RetentionHost,
  ) {}

  /** Free space for `bytes` under maxBytes: compaction first, then the policy. false = reject the new one. */
  makeRoom(bytes: number): boolean {
    const { maxBytes, policy } = this.host.opts();
    const st = this.st;
    if (st.diskBytes + bytes <= maxBytes) return true;
    this.reclaimAcked();
    while (st.diskBytes + bytes > maxBytes) {
      if (policy === 'reject-new') return false;
      if (st.segments.length < 2) this.host.startSegment(st.segments.at(-1)!.id + 1);
      this.dropOldestSegment();
    }
    return true;
  }

  private dropOldestSegment(): void {
    const st = this.st;
    const seg = st.segments[0]!;
    const next = st.segments[1]!;
    let messages = 0;
    let bytes = 0;
    if (seg.id > st.ackPos.segment) {
      messages = seg.count;
      bytes = seg.size;
    } else if (seg.id === st.ackPos.segment) {
      messages = seg.count - st.ackedInAckSegment;
      bytes = seg.size - st.ackPos.offset;
    }
    const ackPos = st.ackPos.segment <= seg.id ? { segment: next.id, offset: 0 } : st.ackPos;
    // The checkpoint names the later position before anything changes: if it cannot be written (a full
    // disk) this throws and the outbox is as it was.
    this.host.writeCheckpoint(ackPos);
    this.host.dropThrough(seg.id, next.id);
    st.unacked.messages -= messages;
    st.unacked.bytes -= bytes;
    if (ackPos !== st.ackPos) {
      st.ackPos = ackPos;
      st.ackedInAckSegment = 0;
    }
    this.deleteSegmentsBefore(next.id, true);
    if (messages > 0) this.host.recordDrop({ reason: 'drop-oldest', messages, bytes });
  }

  /** Delete the segments before the acknowledged position (a checkpoint first, only when there are some). */
  reclaimAcked(): void {
    const st = this.st;
    // A finished segment read to its end is wholly acknowledged: move the position to the next one.
    const i = st.segments.findIndex((s) => s.id === st.ackPos.segment);
    const cur = st.segments[i];
    const next = st.segments[i + 1];
    if (cur && next && st.ackPos.offset >= cur.size) {
      st.ackPos = { segment: next.id, offset: 0 };
      st.ackedInAckSegment = 0;
    }
    this.deleteSegmentsBefore(st.ackPos.segment);
  }

  private deleteSegmentsBefore(id: number, checkpointed = false): void {
    const st = this.st;
    if (!st.segments.some((s) => s.id < id)) return;
    // The checkpoint must name a later position (and hold every seq) before the files go.
    if (!checkpointed) this.host.writeCheckpoint();
    const { dir } = this.host.opts();
    while (st.segments.length > 1 && st.segments[0]!.id < id) {
      const seg = st.segments.shift()!;
      unlinkSync(segmentPath(dir, seg.id));
      st.diskBytes -= seg.size;
    }
    fsyncDirSync(dir);
  }
}
