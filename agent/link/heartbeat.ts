// The gateway's heartbeat event (CONTRACT.md): every wms.heartbeatSeconds while connected, with
// uptime, system metrics, the caller's extras (PLC states) and the outbox's counts. Not queued while
// disconnected: a heartbeat is about now.
import type { Logger } from '../../platform/logger.js';
import type { OutboxStats } from '../outbox/outbox.js';
import { systemMetrics } from './system-metrics.js';
import type { HeartbeatExtras } from './wms-link-types.js';

export interface HeartbeatOptions {
  log: Logger;
  dataDir: string;
  version: string;
  connected: () => boolean;
  extras: () => Promise<HeartbeatExtras | undefined> | HeartbeatExtras | undefined;
  outboxStats: () => OutboxStats;
  /** The policy dropping readings while the outbox's bound costs readings, else undefined. */
  outboxFull?: () => string | undefined;
  publish: (payload: unknown) => Promise<void>;
}

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: HeartbeatOptions) {}

  /** (Re)start at this period; unref'ed, so it never keeps the process up. */
  start(periodSeconds: number): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => void this.send(), periodSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async send(): Promise<void> {
    if (!this.o.connected()) return;
    try {
      const extras = (await this.o.extras()) ?? { plcs: {} };
      const o = this.o.outboxStats();
      const full = this.o.outboxFull?.();
      await this.o.publish({
        ts: new Date().toISOString(),
        uptime: Math.round(process.uptime()),
        ...(await systemMetrics(this.o.dataDir)),
        ...extras,
        outbox: {
          messages: o.messages,
          bytes: o.bytes,
          dropped: o.dropped,
          ...(o.writeFailure && { writeFailure: o.writeFailure.code }),
          ...(full && { full }),
        },
        version: this.o.version,
      });
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'heartbeat failed');
    }
  }
}
