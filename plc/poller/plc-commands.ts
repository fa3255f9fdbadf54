// Commands of one PLC: writes merged by the planner (a bit inside a register as a read-modify-write)
// and on-demand reads of named tags, queued ahead of the polls (urgent), one command at a time so
// one command's requests never interleave with another's, and a bounded number waiting.
import type { Logger } from 'pino';
import type { PlcConfig, TagConfig } from '../config/schema.js';
import { applyBit, type TagValue } from '../codec/codec.js';
import { decodeBlock, planReads, planWrites, type WriteOp } from '../planner/planner.js';
import type { ModbusClient } from '../driver/modbus-client.js';
import type { ModbusLink } from '../driver/modbus-link.js';
import type { SerialQueue } from '../driver/serial-queue.js';
import { ModbusConnectionError, ModbusResponseError } from '../driver/errors.js';
import { CommandQueueFullError, TagNotWritableError, UnknownTagError } from './errors.js';

export interface PlcCommandsDeps {
  config: PlcConfig;
  client: ModbusClient;
  link: ModbusLink;
  /** The PLC's queue: commands go in urgent, ahead of polls that wait there. */
  queue: SerialQueue;
  logger: Logger;
  /** Commands waiting before new ones are refused. */
  limit: number;
  isRunning(): boolean;
  /** One Modbus request made (stats). */
  request(): void;
  /** A command finished on the wire (the poller's progress clock). */
  progress(): void;
}

export class PlcCommands {
  private readonly tags = new Map<string, TagConfig>();
  private pending = 0;
  /** Commands accepted (stats). */
  count = 0;

  constructor(private readonly d: PlcCommandsDeps) {
    for (const g of d.config.groups) for (const t of g.tags) this.tags.set(t.name, t);
  }

  private readonly tagOf = (name: string): TagConfig => {
    const t = this.tags.get(name);
    if (!t) throw new UnknownTagError(this.d.config.id, name);
    return t;
  };

  private run<T>(fn: () => Promise<T>): Promise<T> {
    const { config, link, limit } = this.d;
    if (!this.d.isRunning())
      return Promise.reject(new ModbusConnectionError(`PLC "${config.id}" is not polled`));
    if (!link.isOpen())
      return Promise.reject(
        new ModbusConnectionError(`PLC "${config.id}" is disconnected (${link.description})`),
      );
    if (this.pending >= limit) return Promise.reject(new CommandQueueFullError(config.id, limit));
    this.pending++;
    this.count++;
    return this.d.queue
      .run(async () => {
        const r = await fn();
        this.d.progress();
        return r;
      }, 'urgent')
      .finally(() => this.pending--);
  }

  /**
   * Write tag values (encoded with the codec, merged by planWrites), ahead of the next poll.
   * With readBack, the written tags are read again and returned. Rejects with UnknownTagError,
   * TagNotWritableError, CodecError, CommandQueueFullError or a Modbus error.
   */
  write(
    values: Record<string, unknown>,
    opts: { readBack?: boolean } = {},
  ): Promise<{ values?: Record<string, TagValue> }> {
    const { ops, tags } = planCommandWrite(this.d.config.id, values, this.tagOf);
    return this.run(async () => {
      for (const op of ops) await execWrite(this.d.client, op, this.tagOf, this.d.request);
      this.d.logger.info({ tags: Object.keys(values), requests: ops.length }, 'write done');
      if (!opts.readBack) return {};
      return { values: await this.readTags(tags) };
    });
  }

  /** Read these tags now, ahead of the next poll. Rejects on any failed read. */
  read(names: string[]): Promise<Record<string, TagValue>> {
    try {
      const tags = names.map(this.tagOf);
      return this.run(() => this.readTags(tags));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private readTags(tags: TagConfig[]): Promise<Record<string, TagValue>> {
    const { config } = this.d;
    return readTagsNow(
      this.d.client,
      tags,
      { maxRegisters: config.maxRegistersPerRead, maxBits: config.maxBitsPerRead },
      this.d.request,
    );
  }
}

/** The write requests for `values` (tag name → value), refused before any request if one is not writable. */
export function planCommandWrite(
  plc: string,
  values: Record<string, unknown>,
  tagOf: (name: string) => TagConfig,
): { ops: WriteOp[]; tags: TagConfig[] } {
  const entries = Object.entries(values).map(([name, value]) => {
    const tag = tagOf(name);
    if (!tag.writable) throw new TagNotWritableError(plc, name);
    return { tag, value };
  });
  return { ops: planWrites(entries), tags: entries.map((e) => e.tag) };
}

/** One planned write; `request` counts each Modbus request made. */
export async function execWrite(
  client: ModbusClient,
  op: WriteOp,
  tagOf: (name: string) => TagConfig,
  request: () => void,
): Promise<void> {
  request();
  switch (op.kind) {
    case 'registers':
      if (op.values.length === 1) await client.writeRegister(op.start, op.values[0]!, 'urgent');
      else await client.writeRegisters(op.start, op.values, 'urgent');
      break;
    case 'coils':
      if (op.values.length === 1) await client.writeCoil(op.start, op.values[0]!, 'urgent');
      else await client.writeCoils(op.start, op.values, 'urgent');
      break;
    case 'bit': {
      // Read-modify-write inside one queued command: no other command runs in between, and polls
      // only read.
      const [reg] = await client.readRegisters('holding', op.address, 1, 'urgent');
      request();
      await client.writeRegister(op.address, applyBit(tagOf(op.tag), reg!, op.value), 'urgent');
      break;
    }
  }
}

/** Read these tags now (no gap merging); rejects on any failed read or tag that did not decode. */
export async function readTagsNow(
  client: ModbusClient,
  tags: TagConfig[],
  limits: { maxRegisters: number; maxBits: number },
  request: () => void,
): Promise<Record<string, TagValue>> {
  const blocks = planReads(tags, { maxGap: 0, ...limits });
  const out: Record<string, TagValue> = {};
  for (const b of blocks) {
    request();
    const data =
      b.area === 'coil' || b.area === 'discrete'
        ? await client.readBits(b.area, b.start, b.count, 'urgent')
        : await client.readRegisters(b.area, b.start, b.count, 'urgent');
    const res = decodeBlock(b, data);
    const bad = Object.entries(res.errors)[0];
    if (bad) throw new ModbusResponseError(`tag "${bad[0]}": ${bad[1]}`);
    Object.assign(out, res.values);
  }
  return out;
}
