// Running an accepted command, apart from deciding whether to accept it (command-service.ts): wait until
// its id is durable, do the PLC part (a write or a whole sequence under the update lock), then publish,
// store and audit the result. It keeps the per-PLC count of commands waiting, which admission bounds
// (commands.queueLength), and the ids still running, whose duplicates wait for their result.
import type { Logger } from '../../platform/logger.js';
import type { AuditEntry } from '../audit/audit-log.js';
import { summary, type Command } from './claims.js';
import type { Ack, CommandsSettings, CommandTarget } from './command-ports.js';
import type { LockLease } from './lock-lease.js';
import { RejectedError } from './rejection.js';
import type { CommandResult, ReplayCache } from './replay-cache.js';
import { StorageError, describeError, jsonValues, type ResultErrorCode } from './result-values.js';
import { runSequence } from './sequence-run.js';

export interface CommandExecutorDeps {
  /** Read at each use: a config change replaces the settings. */
  settings: () => CommandsSettings;
  replay: ReplayCache;
  lease: LockLease | undefined;
  logger: Logger;
  reply(subtopic: 'cmd/ack' | 'cmd/result', payload: Ack | CommandResult): void;
  /** Never throws: audit failures are logged by the service. */
  audit(entry: AuditEntry): Promise<void>;
}

export class CommandExecutor {
  private readonly inflight = new Map<string, number>();
  /** Ids claimed in this process whose result is not out yet: a duplicate of one waits for that result. */
  private readonly active = new Set<string>();

  constructor(private readonly d: CommandExecutorDeps) {}

  /** Throws RejectedError queue-full when the PLC already has commands.queueLength commands waiting. */
  checkRoom(plc: string): void {
    const queued = this.inflight.get(plc) ?? 0;
    if (queued >= this.d.settings().queueLength)
      throw new RejectedError(
        'queue-full',
        plc,
        `${queued} commands waiting (commands.queueLength)`,
      );
  }

  /** One more command waits for this PLC (and, with an id from `cmd`, is running until its result). */
  reserve(plc: string, id?: string): void {
    this.inflight.set(plc, (this.inflight.get(plc) ?? 0) + 1);
    if (id !== undefined) this.active.add(id);
  }

  async execute(
    cmd: Command,
    target: CommandTarget,
    kid: string | null,
    durable: Promise<void>,
    reply = true,
  ): Promise<CommandResult> {
    let result: CommandResult;
    try {
      await durable.catch((e: unknown) => {
        this.d.logger.error(
          { err: e, command: cmd.id },
          'replay cache write failed; command not run',
        );
        throw new StorageError(e);
      });
      result = await this.run(cmd, target);
    } catch (e) {
      result = {
        id: cmd.id,
        status: 'error',
        error: describeError(e),
        ts: new Date().toISOString(),
      };
    } finally {
      this.inflight.set(cmd.plc, (this.inflight.get(cmd.plc) ?? 1) - 1);
    }
    // Published first: the stored copy only serves duplicates, and a lost one reads as "interrupted".
    if (reply) this.d.reply('cmd/result', result);
    const stored = this.d.replay
      .setResult(result)
      .catch((e: unknown) =>
        this.d.logger.error({ err: e, command: cmd.id }, 'could not persist command result'),
      );
    this.active.delete(cmd.id); // setResult has put the result in memory: duplicates get it from now on
    const log = {
      command: cmd.id,
      plc: cmd.plc,
      op: cmd.op,
      status: result.status,
      error: result.error,
    };
    if (result.status === 'ok') this.d.logger.info(log, 'command done');
    else this.d.logger.warn(log, 'command failed');
    await this.d.audit({
      kind: 'command',
      who: kid,
      id: cmd.id,
      what: summary(cmd),
      outcome: result.status,
      ...(result.error ? { reason: result.error } : {}),
    });
    await stored;
    return result;
  }

  /** Re-send the earlier result of a duplicate (or, if still running, it will come when done). */
  resend(id: string): void {
    const earlier = this.d.replay.lookup(id)?.result;
    if (!earlier && this.active.has(id)) return;
    this.d.reply(
      'cmd/result',
      earlier ?? {
        id,
        status: 'error',
        error: `${'interrupted' satisfies ResultErrorCode}: the gateway restarted before the PLC answered; check the PLC state before retrying with a new id`,
        ts: new Date().toISOString(),
      },
    );
  }

  /** The PLC part of a command; a write or a whole sequence holds the update lock while it runs. */
  private async run(cmd: Command, target: CommandTarget): Promise<CommandResult> {
    const { readBack, maxSequenceMs } = this.d.settings();
    const locked = <T>(fn: () => Promise<T>) =>
      this.d.lease ? this.d.lease.run(`command ${cmd.id}`, fn) : fn();
    if (cmd.op === 'sequence') {
      // Every step under one lock: the supervisor may not restart us between strobe and acknowledge.
      const out = await locked(() =>
        runSequence(cmd.steps, target, { readBack, maxMs: maxSequenceMs }),
      );
      return {
        id: cmd.id,
        status: out.status,
        steps: out.steps.map((st) => (st.values ? { ...st, values: jsonValues(st.values) } : st)),
        ...(Object.keys(out.values).length > 0 ? { values: jsonValues(out.values) } : {}),
        ...(out.error ? { error: out.error } : {}),
        ts: new Date().toISOString(),
      };
    }
    const values =
      cmd.op === 'write'
        ? (await locked(() => target.write(cmd.values, { readBack }))).values
        : await target.read(cmd.tags);
    return {
      id: cmd.id,
      status: 'ok',
      ...(values ? { values: jsonValues(values) } : {}),
      ts: new Date().toISOString(),
    };
  }
}
