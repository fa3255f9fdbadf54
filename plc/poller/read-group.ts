// One poll cycle of one group: read its blocks (several in flight on a pipelined connection), decode
// them, and say per tag what went wrong. The poller decides what the outcome means for the unit's
// state and backoff; this module only reads.
import type { Logger } from 'pino';
import type { TagValue } from '../codec/codec.js';
import { decodeBlockInto, type ReadBlock } from '../planner/planner.js';
import { errorCode, isLinkFatal, isModbusResponseError } from '../driver/errors.js';
import type { ModbusLink, SendStamp } from '../driver/modbus-link.js';
import { readPipelined } from './pipeline.js';
import { isUnitSilent } from './unit-backoff.js';

export interface GroupReadHost {
  readonly link: ModbusLink;
  /** Transactions in flight at once on the link (1: one block after the other). */
  readonly pipeline: number;
  readonly tcp: boolean;
  readonly logger: Logger;
  /** false once the poller stops: the cycle ends without a reading. */
  isRunning(): boolean;
  read(block: ReadBlock, stamp: SendStamp): Promise<boolean[] | number[]>;
  /** A block read failed (counted by the poller). */
  failed(): void;
}

export interface GroupOutcome {
  values: Record<string, TagValue>;
  /** tag → reason code (docs/reason-codes.md). */
  errors: Record<string, string>;
  /** Blocks that were answered. */
  ok: number;
  /** The code of the first read the unit itself did not answer (timeout, gateway exception). */
  unitSilent: string | undefined;
  /** Date.now() when the cycle's first request went out; 0 if none did. */
  sentMs: number;
}

/** Read one group's blocks; undefined when the poller stopped under the cycle. */
export async function readGroup(
  host: GroupReadHost,
  group: number,
  blocks: readonly ReadBlock[],
): Promise<GroupOutcome | undefined> {
  const stamp: SendStamp = { sentMs: 0 };
  // Every block decodes straight into the reading's objects: no object per block, no copying.
  const values: Record<string, TagValue> = {};
  const errors: Record<string, string> = {};
  let fatal: string | undefined;
  let ok = 0;
  let unitSilent: string | undefined;
  const pipelined =
    host.pipeline > 1 && blocks.length > 1
      ? readPipelined(blocks, host.pipeline, (b) => host.read(b, stamp))
      : undefined;
  for (let bi = 0; bi < blocks.length; bi++) {
    const block = blocks[bi]!;
    if (!host.isRunning()) return undefined;
    if (fatal === undefined && !pipelined && !host.link.isOpen()) fatal = 'disconnected';
    if (fatal !== undefined) {
      for (const t of block.tags) errors[t.name] = fatal;
      continue;
    }
    try {
      const data = pipelined ? await pipelined[bi]! : await host.read(block, stamp);
      // A tag the answer cannot give (short, malformed) is `bad-response` on the wire; the detail
      // is not a reason code.
      if (decodeBlockInto(block, data, values, errors) > 0)
        for (const t of block.tags)
          if (errors[t.name] !== undefined) errors[t.name] = 'bad-response';
      ok++;
    } catch (e) {
      if (!host.isRunning()) return undefined; // stopping: the link was closed under this read
      const code = errorCode(e);
      host.failed();
      for (const t of block.tags) errors[t.name] = code;
      if (isUnitSilent(e)) unitSilent ??= code;
      // After a timeout, a gateway exception or a garbled answer the rest of this cycle would only
      // wait or mis-pair: give it the same error. A garbled answer on TCP also reconnects so the
      // stream is in step again (a timeout closes the connection only if no unit answers on it:
      // TcpLink decides, so a dead unit behind a gateway does not cut off the others).
      if (isLinkFatal(e) || isUnitSilent(e)) {
        fatal = code;
        host.logger.warn(
          { group, area: block.area, start: block.start, count: block.count, error: code },
          'read failed',
        );
        if (host.tcp && isModbusResponseError(e)) await host.link.close();
      } else
        host.logger.debug(
          { group, area: block.area, start: block.start, error: code },
          'read refused',
        );
    }
  }
  return { values, errors, ok, unitSilent, sentMs: stamp.sentMs };
}
