// Can the file system hold the outbox's bound? A 512 MiB default on a small SD-card partition fills the
// disk long before the policy bound is reached, and then readings are lost to ENOSPC instead of being
// handled by wms.outbox.policy. Checked at start (logged + alerted) and by `diagnose`.
import { statfsSync } from 'node:fs';

export interface OutboxCapacity {
  /** maxBytes fits in what the outbox already uses plus the free space. */
  fits: boolean;
  maxBytes: number;
  /** Size of the file system holding the outbox. */
  fsBytes: number;
  /** Free space for an unprivileged writer. */
  availableBytes: number;
  /** Bytes the outbox already holds on that file system. */
  usedBytes: number;
  message: string;
}

/** dir must exist (the outbox directory or a parent on the same file system). */
export function outboxCapacity(dir: string, maxBytes: number, usedBytes: number): OutboxCapacity {
  const s = statfsSync(dir);
  const fsBytes = s.blocks * s.bsize;
  const availableBytes = s.bavail * s.bsize;
  const room = availableBytes + usedBytes;
  const fits = maxBytes <= room;
  const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;
  const message = fits
    ? `outbox bound ${mib(maxBytes)} fits: ${mib(room)} available to it on a ${mib(fsBytes)} file system`
    : `outbox bound wms.outbox.maxBytes ${mib(maxBytes)} is more than the file system can hold: ` +
      `${mib(availableBytes)} free + ${mib(usedBytes)} used by the outbox on a ${mib(fsBytes)} file system; ` +
      `a long outage fills the disk (readings dropped as disk-full) before wms.outbox.policy applies`;
  return { fits, maxBytes, fsBytes, availableBytes, usedBytes, message };
}
