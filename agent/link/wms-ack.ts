// The WMS's end-to-end acknowledgement (CONTRACT.md §8): `plc/{plc}/ack` `{"seq"}` says the WMS stored
// every data message of that PLC up to seq. Everything about it is checked before the outbox sees it;
// a bad one is refused and counted, never allowed to release a message the WMS may not have.
import type { Logger } from '../../platform/logger.js';
import type { Outbox, WmsAckOutcome } from '../outbox/outbox.js';

export type AckRefusal = 'not-json' | 'bad-seq' | 'unknown-plc' | 'seq-ahead';

export interface AckCounters {
  applied: number;
  stale: number;
  refused: number;
}

/** One log line per refusal reason per this period, with how many were refused: a flood is not a log flood. */
export const REFUSAL_LOG_PERIOD_MS = 10_000;

/** The seq of an ack payload, or why it is not one. */
export function parseAck(payload: Buffer): number | AckRefusal {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString('utf8'));
  } catch {
    return 'not-json';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not-json';
  const seq = (v as { seq?: unknown }).seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return 'bad-seq';
  return seq;
}

export class WmsAckHandler {
  readonly counters: AckCounters = { applied: 0, stale: 0, refused: 0 };
  private refusals = new Map<AckRefusal, { n: number; loggedAtMs: number; sample: object }>();

  constructor(
    private readonly outbox: Outbox,
    private readonly log: Logger,
    private readonly knownPlc: (plc: string) => boolean,
    private readonly onReleased: () => void,
  ) {}

  handle(plc: string, payload: Buffer): WmsAckOutcome | AckRefusal {
    if (!this.knownPlc(plc)) return this.refuse('unknown-plc', { plc });
    const seq = parseAck(payload);
    if (typeof seq !== 'number') return this.refuse(seq, { plc, bytes: payload.length });
    const r = this.outbox.wmsAck(plc, seq);
    switch (r.kind) {
      case 'applied':
        this.counters.applied++;
        if (r.released > 0) this.onReleased();
        break;
      case 'stale':
        this.counters.stale++;
        break;
      case 'ahead':
        return this.refuse('seq-ahead', { plc, seq, sent: r.sent });
      case 'unknown-key':
        return this.refuse('unknown-plc', { plc, seq });
      case 'not-wms-ack-mode':
        break;
    }
    return r;
  }

  private refuse(reason: AckRefusal, ctx: object): AckRefusal {
    this.counters.refused++;
    const now = Date.now();
    const r = this.refusals.get(reason);
    if (!r) {
      this.log.warn({ reason, ...ctx }, 'WMS ack refused; nothing released from the outbox');
      this.refusals.set(reason, { n: 0, loggedAtMs: now, sample: ctx });
    } else if (now - r.loggedAtMs >= REFUSAL_LOG_PERIOD_MS) {
      this.log.warn(
        { reason, refused: r.n + 1, ...ctx },
        'WMS acks refused since the last report; nothing released from the outbox',
      );
      this.refusals.set(reason, { n: 0, loggedAtMs: now, sample: ctx });
    } else {
      r.n++;
    }
    return reason;
  }
}
