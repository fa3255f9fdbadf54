// The outbox cannot write: a full file system (ENOSPC/EDQUOT) or any other write error. It is one
// state with a start and an end, reported once each ('write-failure', 'write-recovered'), not once per
// dropped reading, so an operator sees one alert for a full disk however many readings it costs.
import type { Logger } from '../../platform/logger.js';
import type { WriteFailure } from './outbox-types.js';

export type WriteDropReason = 'disk-full' | 'write-error';

export interface WriteFailureReports {
  started(failure: WriteFailure): void;
  ended(failure: WriteFailure): void;
}

function isDiskFull(code: string | undefined): boolean {
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export class WriteFailureState {
  /** Set while writes fail, with the error that started it. */
  current: WriteFailure | undefined;

  constructor(
    private readonly dir: string,
    private readonly logger: Logger,
    private readonly reports: WriteFailureReports,
  ) {}

  /** The drop reason for the other records of a chunk whose write failed. */
  reason(): WriteDropReason {
    return isDiskFull(this.current?.code) ? 'disk-full' : 'write-error';
  }

  /** A write failed with e: starts the failure (once) and gives the failed record's drop reason. */
  fail(e: NodeJS.ErrnoException): WriteDropReason {
    const full = isDiskFull(e.code);
    if (!this.current) {
      this.current = {
        code: e.code ?? 'EIO',
        message: e.message,
        since: new Date().toISOString(),
      };
      this.logger.error(
        { err: e.message, code: e.code, dir: this.dir },
        full
          ? 'outbox: file system full; new readings are dropped until space returns'
          : 'outbox: write failed; new readings are dropped until writes succeed',
      );
      this.reports.started(this.current);
    }
    return full ? 'disk-full' : 'write-error';
  }

  /** A write succeeded: the failure (if any) is over. */
  succeeded(): void {
    if (!this.current) return;
    const f = this.current;
    this.current = undefined;
    this.logger.info({ since: f.since, code: f.code }, 'outbox: writing again');
    this.reports.ended(f);
  }
}
