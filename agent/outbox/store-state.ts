// What the outbox store knows of its files, shared by the modules it is split into: the segments and
// their bytes on disk, the seq counters, the acknowledged position (where the contiguous acknowledged
// prefix ends) and what lies past it, still to be delivered.
import type { OutboxEntry } from './delivery-window.js';
import type { Segment } from './outbox-types.js';

export class StoreState {
  segments: Segment[] = [];
  diskBytes = 0;
  seqs = new Map<string, number>();
  ackPos = { segment: 0, offset: 0 };
  /** Records of segment ackPos.segment that lie before ackPos.offset. */
  ackedInAckSegment = 0;
  unacked = { messages: 0, bytes: 0 };

  /** Entries that left the delivery window as the acknowledged prefix; true when the position moved. */
  release(done: readonly OutboxEntry[]): boolean {
    for (const e of done) {
      this.unacked.messages--;
      this.unacked.bytes -= e.end - e.offset;
      if (e.segment !== this.ackPos.segment) this.ackedInAckSegment = 0;
      // In place: one object per acknowledged message adds up at replay rates.
      this.ackPos.segment = e.segment;
      this.ackPos.offset = e.end;
      this.ackedInAckSegment++;
    }
    return done.length > 0;
  }
}
