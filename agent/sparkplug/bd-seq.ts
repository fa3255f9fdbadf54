// The birth/death sequence number (Sparkplug 3.0 bdSeq): one per MQTT CONNECT, 0–255, kept on
// disk so a host can tell a restarted node's new session from the old one's late will.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../platform/atomic-file.js';

export class BdSeqStore {
  private readonly path: string;
  private last: number | undefined;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'sparkplug', 'bdseq');
  }

  /** The last bdSeq handed out (from disk), undefined when none ever was. */
  current(): number | undefined {
    if (this.last !== undefined) return this.last;
    try {
      const n = Number(readFileSync(this.path, 'utf8').trim());
      if (Number.isInteger(n) && n >= 0 && n <= 255) this.last = n;
    } catch {
      // No file yet (first start) or unreadable: start from 0 as the spec's first session.
    }
    return this.last;
  }

  /** The bdSeq of the next CONNECT, written durably before it is used in a will. */
  next(): number {
    const prev = this.current();
    const n = prev === undefined ? 0 : (prev + 1) % 256;
    writeFileAtomicSync(this.path, `${n}\n`, 0o644);
    this.last = n;
    return n;
  }
}
