// WMS commands → PLC writes/reads. Every payload on `cmd` gets exactly one `cmd/ack` (accepted or rejected,
// sent before anything touches the PLC), and every accepted one a `cmd/result` once the PLC answered.
// Order of checks: size → signature → claims shape → duplicate/replay → time → PLC → tags/values → queue.
// This module decides and answers; opening the payload is payload-opening.ts, running an accepted
// command (PLC part, result, audit) command-executor.ts, the ports it needs command-ports.ts.
import { join } from 'node:path';
import type { Logger } from '../../platform/logger.js';
import type { AuditEntry, AuditLog } from '../audit/audit-log.js';
import {
  checkTimes,
  parseCommand,
  peekId,
  readUnverified,
  summary,
  type Command,
} from './claims.js';
import type {
  Ack,
  CommandsSettings,
  CommandTargets,
  EventPublisher,
  UpdateLock,
} from './command-ports.js';
import { CommandExecutor } from './command-executor.js';
import { openPayload } from './payload-opening.js';
import { LockLease } from './lock-lease.js';
import { RejectedError, fromSignatureError, isRejectedError } from './rejection.js';
import { ReplayCache, type CommandResult } from './replay-cache.js';
import { isSignatureError } from '../../platform/signature/errors.js';
import { KeyRing } from '../../platform/signature/key-ring.js';
import { TrustAuthority } from '../trust/trust-authority.js';
import { checkRead, checkWrite } from './value-check.js';
import { checkSequence } from './sequence-run.js';

// The ports used to be declared here: importers of this module keep finding them.
export type {
  Ack,
  CommandsSettings,
  CommandTarget,
  CommandTargets,
  EventPublisher,
  UpdateLock,
} from './command-ports.js';

export interface CommandServiceOptions {
  settings: CommandsSettings;
  dataDir: string;
  pollers: CommandTargets;
  link: EventPublisher;
  audit: AuditLog;
  logger: Logger;
  lock?: UpdateLock;
  /**
   * Who may sign (agent/trust). Without it the service trusts only settings.keys (no roots, no policy)
   * and reloads them on reconfigure; with it, the owner keeps it current.
   */
  trust?: TrustAuthority;
  /** Clock in epoch ms (tests). */
  now?: () => number;
}

/**
 * Rejections of messages nobody authenticated (junk on `cmd`) are audited only while fewer than this
 * many audit entries wait for the disk: a flood must not queue fsyncs without bound. Skipped ones are
 * counted (auditSkipped) and logged in a summary.
 */
export const AUDIT_BACKLOG_FOR_UNVERIFIED = 16;
/** Built once: an Error per dropped message (its stack trace) is measurable under a flood. */
const QUEUE_FULL_REASON = new RejectedError('queue-full', 'cmd', 'inbound queue full (wms.inbound)')
  .reason;
const UNVERIFIED_REASONS = new Set([
  'malformed',
  'too-large',
  'unsigned',
  'bad-signature',
  'bad-alg',
  'unknown-key',
]);

/** Remembered past exp + tolerance by this much more, for clocks that step backwards. */
export const REPLAY_MARGIN_MS = 60_000;

export class CommandService {
  private readonly tasks = new Set<Promise<unknown>>();
  private readonly now: () => number;
  private readonly lease: LockLease | undefined;
  private readonly executor: CommandExecutor;
  /** Unverified rejections not audited because the audit backlog was full. */
  auditSkipped = 0;
  /** Commands answered queue-full because the inbound queue of `cmd` had no room. */
  queueFullRejected = 0;

  private constructor(
    private readonly opts: CommandServiceOptions,
    private settings: CommandsSettings,
    private readonly trust: TrustAuthority,
    private readonly ownsTrust: boolean,
    private readonly replay: ReplayCache,
  ) {
    this.now = opts.now ?? Date.now;
    this.lease = opts.lock && new LockLease(opts.lock, settings.lockLingerMs);
    this.executor = new CommandExecutor({
      settings: () => this.settings,
      replay,
      lease: this.lease,
      logger: opts.logger,
      reply: (subtopic, payload) => this.reply(subtopic, payload),
      audit: (entry) => this.audit(entry),
    });
  }

  /** Loads the keys (throws KeyError naming commands.keys.N) and the replay cache under $DATA_DIR/commands. */
  static async create(opts: CommandServiceOptions): Promise<CommandService> {
    const trust =
      opts.trust ??
      (await TrustAuthority.create({
        commandsKeys: opts.settings.keys,
        otaKeys: [],
        roots: await KeyRing.load([]),
      }));
    const replay = await ReplayCache.open(join(opts.dataDir, 'commands'), {
      maxEntries: opts.settings.replayCacheEntries,
    });
    const svc = new CommandService(opts, opts.settings, trust, !opts.trust, replay);
    svc.warnIfUnsigned();
    return svc;
  }

  /** New settings from a config change. Throws KeyError and keeps the old ones if a key is bad. */
  async reconfigure(settings: CommandsSettings): Promise<void> {
    if (this.ownsTrust) await this.trust.setLocalKeys(settings.keys, []);
    const wasSigned = this.settings.requireSignature;
    this.settings = settings;
    if (wasSigned) this.warnIfUnsigned();
  }

  /** Handle one raw `cmd` payload: always exactly one cmd/ack (sent before this resolves with it); never rejects. */
  async handle(raw: Buffer | Uint8Array | string): Promise<Ack> {
    const received = this.now();
    let ack: Ack;
    let kid: string | null = null;
    let cmd: Command | undefined;
    let id: string | number | null = null;
    let run: (() => Promise<CommandResult>) | undefined;
    try {
      const buf =
        typeof raw === 'string'
          ? Buffer.from(raw)
          : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      if (buf.length > this.settings.maxPayloadBytes) {
        // Still say which command it was, if it can be read (the link already bounds the size).
        id = peekId(readUnverified(buf.toString('utf8').trim()));
        throw new RejectedError(
          'too-large',
          undefined,
          `${buf.length} bytes > commands.maxPayloadBytes ${this.settings.maxPayloadBytes}`,
        );
      }
      const opened = await openPayload(
        buf.toString('utf8').trim(),
        {
          trust: this.trust,
          requireSignature: this.settings.requireSignature,
          nowSeconds: this.now() / 1000,
        },
        (v) => (id = v),
      );
      kid = opened.kid;
      cmd = parseCommand(opened.doc, opened.kid !== null);
      id = cmd.id;
      // The signer's scope: a delegated key commands only the PLCs its policy names.
      if (kid !== null) this.authorize(kid, cmd.plc);
      run = this.admit(cmd, opened.hash, received, kid);
      ack = run ? { id, status: 'accepted' } : { id, status: 'accepted', note: 'duplicate' };
    } catch (e) {
      if (!isRejectedError(e))
        this.opts.logger.error({ err: e, command: id }, 'command check failed unexpectedly');
      const reason = isRejectedError(e)
        ? e.reason
        : new RejectedError('malformed', undefined, 'internal error while checking').reason;
      ack = { id, status: 'rejected', reason };
      run = undefined;
    }
    // The ack goes out before the PLC is touched; the result follows on the same ordered link.
    this.reply('cmd/ack', ack);
    void run?.();
    this.logAck(ack, cmd, kid, received);
    const code = ack.reason?.split(/[:( ]/, 1)[0] ?? '';
    if (
      ack.status === 'rejected' &&
      kid === null &&
      UNVERIFIED_REASONS.has(code) &&
      this.opts.audit.pending >= AUDIT_BACKLOG_FOR_UNVERIFIED
    ) {
      if (++this.auditSkipped % 1000 === 1)
        this.opts.logger.warn(
          { auditSkipped: this.auditSkipped },
          'audit backlog full: rejections of unverified commands counted, not audited',
        );
      return ack;
    }
    void this.track(
      this.audit({
        kind: 'command',
        who: kid,
        id: ack.id,
        what: summary(cmd),
        outcome: ack.note ? 'duplicate' : ack.status,
        ...(ack.reason ? { reason: ack.reason } : {}),
      }),
    );
    return ack;
  }

  /**
   * A `cmd` payload the inbound queue had no room for: answered at once with cmd/ack rejected
   * queue-full. No signature work, no disk: only the id is read (unverified) so the WMS can match it;
   * a payload without a readable id is only counted.
   */
  rejectQueueFull(raw: Buffer): void {
    this.queueFullRejected++;
    let id: string | number | null = null;
    if (raw.length <= this.settings.maxPayloadBytes)
      id = peekId(readUnverified(raw.toString('utf8').trim()));
    // Without an id nobody can match the answer: counted, not answered (that is most of a junk flood).
    if (id === null) return;
    this.reply('cmd/ack', { id, status: 'rejected', reason: QUEUE_FULL_REASON });
  }

  /**
   * A write already authorised by its transport (a Sparkplug DCMD, with sparkplug.commands on): the same
   * PLC/tag/writable/min/max checks, per-PLC queue bound, update lock, execution and audit as a signed
   * command, without the JWS and replay steps (the transport has no id or signature) and without
   * cmd/ack or cmd/result (the caller reports). Throws RejectedError before anything touches the PLC;
   * resolves with the result once the PLC answered.
   */
  async submitWrite(req: {
    id: string;
    plc: string;
    values: Record<string, unknown>;
    who: string;
  }): Promise<CommandResult> {
    const cmd: Command = { id: req.id, plc: req.plc, op: 'write', values: req.values };
    const target = this.opts.pollers.get(cmd.plc);
    let run: () => Promise<CommandResult>;
    try {
      if (!target)
        throw new RejectedError('unknown-plc', cmd.plc, 'no PLC with this id in the config');
      checkWrite(target.config, cmd.values);
      this.executor.checkRoom(cmd.plc);
      this.executor.reserve(cmd.plc);
      run = () => this.executor.execute(cmd, target, req.who, Promise.resolve(), false);
    } catch (e) {
      const reason = isRejectedError(e) ? e.reason : String(e);
      void this.track(
        this.audit({
          kind: 'command',
          who: req.who,
          id: cmd.id,
          what: summary(cmd),
          outcome: 'rejected',
          reason,
        }),
      );
      throw e;
    }
    this.opts.logger.info(
      { command: cmd.id, plc: cmd.plc, op: cmd.op, kid: req.who },
      'command accepted',
    );
    return this.track(run());
  }

  /** Record a local write refused before it reached the checks (no or wrong token at the page). */
  async auditRefused(who: string, doc: unknown, reason: string): Promise<void> {
    const d = (doc && typeof doc === 'object' ? doc : {}) as Record<string, unknown>;
    this.opts.logger.warn({ who, plc: d.plc, reason }, 'local command refused');
    await this.audit({
      kind: 'command',
      who,
      id: peekId(d),
      what: { plc: d.plc, op: 'write', values: d.values },
      outcome: 'rejected',
      reason,
    });
  }

  /** Resolves when every accepted command has its result published and audited (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.tasks.size) await Promise.allSettled([...this.tasks]);
  }

  async close(): Promise<void> {
    await this.idle();
    this.lease?.close();
    await this.replay.close();
  }

  private authorize(kid: string, plc: string): void {
    try {
      this.trust.authorize(kid, 'commands', { scope: plc, nowSeconds: this.now() / 1000 });
    } catch (e) {
      throw isSignatureError(e) ? fromSignatureError(e) : e;
    }
  }

  /**
   * Every check, then the claim of the id. Returns the function that starts the command, or undefined
   * for a duplicate (whose earlier result is re-sent). Synchronous from the duplicate lookup to the
   * in-memory claim, so two copies racing cannot both pass. Throws RejectedError.
   */
  private admit(
    cmd: Command,
    hash: string,
    received: number,
    kid: string | null,
  ): (() => Promise<CommandResult>) | undefined {
    const seen = this.replay.lookup(cmd.id);
    if (seen) {
      if (seen.hash !== hash)
        throw new RejectedError('replayed', cmd.id, 'this id was used by another command');
      this.executor.resend(cmd.id);
      return undefined;
    }
    checkTimes(cmd, {
      nowSeconds: received / 1000,
      toleranceSeconds: this.settings.clockToleranceSeconds,
      maxLifetimeSeconds: this.settings.maxLifetimeSeconds,
    });
    const target = this.opts.pollers.get(cmd.plc);
    if (!target)
      throw new RejectedError('unknown-plc', cmd.plc, 'no PLC with this id in the config');
    if (cmd.op === 'write') checkWrite(target.config, cmd.values);
    else if (cmd.op === 'sequence') checkSequence(target.config, cmd.steps, this.settings);
    else checkRead(target.config, cmd.tags);
    this.executor.checkRoom(cmd.plc);
    const expSec = cmd.exp ?? received / 1000 + this.settings.maxLifetimeSeconds;
    const until = expSec * 1000 + this.settings.clockToleranceSeconds * 1000 + REPLAY_MARGIN_MS;
    // The ack need not wait for the disk; the PLC must: a command runs only once its id is durable,
    // so a crash can lose a command (the WMS sees no result and retries) but never run one twice.
    const durable = this.replay.claim(cmd.id, hash, until, this.now());
    durable.catch(() => undefined); // awaited in execute
    this.executor.reserve(cmd.plc, cmd.id);
    return () => this.track(this.executor.execute(cmd, target, kid, durable));
  }

  private reply(subtopic: 'cmd/ack' | 'cmd/result', payload: Ack | CommandResult): void {
    void this.track(
      this.opts.link
        .publishEvent(subtopic, payload)
        .catch((e: unknown) =>
          this.opts.logger.warn(
            { err: e, command: payload.id, topic: subtopic },
            'could not publish command reply',
          ),
        ),
    );
  }

  /** Audit write failures are logged, never thrown into the command path. */
  private audit(entry: AuditEntry): Promise<void> {
    return this.opts.audit
      .append(entry)
      .catch((e: unknown) =>
        this.opts.logger.error({ err: e, command: entry.id }, 'could not write the audit log'),
      );
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.tasks.add(p);
    void p.finally(() => this.tasks.delete(p)).catch(() => undefined);
    return p;
  }

  private logAck(ack: Ack, cmd: Command | undefined, kid: string | null, received: number): void {
    const log = {
      command: ack.id,
      plc: cmd?.plc,
      op: cmd?.op,
      kid,
      reason: ack.reason,
      note: ack.note,
      ms: this.now() - received,
    };
    if (ack.status === 'accepted') this.opts.logger.info(log, 'command accepted');
    else this.opts.logger.warn(log, 'command rejected');
  }

  private warnIfUnsigned(): void {
    if (!this.settings.requireSignature)
      this.opts.logger.warn(
        { setting: 'commands.requireSignature' },
        'commands.requireSignature is false: unsigned commands can move machinery — demo only',
      );
  }
}
