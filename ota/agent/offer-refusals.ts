// Offers refused at screening (unreadable, an unsigned source not allowed, a bad signature, busy) are
// kept in memory only and shown on ota/state as its error, published at most once a second: a flood of
// junk offers costs no disk write, no lock and no state.json read per offer.
import type { Logger } from 'pino';
import { isOtaRefusal } from '../errors.js';
import { RESTING_PHASES } from '../device/states.js';
import type { OtaStatePayload } from './state-payload.js';

/** ota/state is re-published for refused unverified offers at most this often. */
export const REFUSAL_PUBLISH_MS = 1000;

interface Refusal {
  reason: string;
  message: string;
  ts: string;
}

export class OfferRefusals {
  /** Offers refused before any lock or disk write. */
  count = 0;
  private last: Refusal | undefined;
  private lastPublish = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    /** Publish ota/state now (with the refusal applied by the caller through apply()). */
    private readonly publish: () => void,
  ) {}

  /** Record a refusal; log the first and every 100th; publish now or at the next free second. */
  refuse(e: unknown): void {
    this.count++;
    const reason = isOtaRefusal(e) ? e.reason : 'bad-offer';
    const message = e instanceof Error ? e.message : String(e);
    this.last = { reason, message, ts: new Date().toISOString() };
    if (this.count === 1 || this.count % 100 === 0)
      this.logger.warn({ reason, refusedOffers: this.count }, `ota offer refused: ${message}`);
    if (this.timer) return;
    const wait = Math.max(0, this.lastPublish + REFUSAL_PUBLISH_MS - Date.now());
    const go = () => {
      this.timer = undefined;
      this.lastPublish = Date.now();
      this.publish();
    };
    if (wait === 0) go();
    else {
      this.timer = setTimeout(go, wait);
      this.timer.unref();
    }
  }

  /** An offer passed screening: the last refusal no longer describes the state. */
  clear(): void {
    this.last = undefined;
  }

  /** The last screening refusal shows as the error while no update ran after it. */
  apply(p: OtaStatePayload): OtaStatePayload {
    const r = this.last;
    if (!r || !RESTING_PHASES.includes(p.phase)) return p;
    const lastMove = p.history.at(-1)?.ts ?? '';
    if (lastMove > r.ts) return p;
    return { ...p, error: { reason: r.reason, message: r.message } };
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
