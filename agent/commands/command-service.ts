// WMS commands → PLC writes/reads. Every payload on `cmd` gets exactly one `cmd/ack` (accepted or rejected,
// sent before anything touches the PLC), and every accepted one a `cmd/result` once the PLC answered.
// Order of checks: size → signature → claims shape → duplicate/replay → time → PLC → tags/values → queue.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { GatewayConfig } from '../config/schema.js';
import type { PlcConfig } from '../../plc/config/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { AuditEntry, AuditLog } from '../audit/audit-log.js';
import {
  checkTimes,
  parseCommand,
  parseJsonObject,
  peekId,
  readUnverified,
  type Command,
} from './claims.js';
import { KeySet } from './key-set.js';
import { LockLease } from './lock-lease.js';
import { RejectedError, isRejectedError } from './rejection.js';
import { ReplayCache, type CommandResult } from './replay-cache.js';
import { looksLikeCompactJws, verifyCompactJws } from './verify-jws.js';
import { checkRead, checkWrite } from './value-check.js';
import { StorageError, describeError, jsonValues, type ResultErrorCode } from './result-values.js';

export type CommandsSettings = GatewayConfig['commands'];

/** What the service needs of a PLC poller (plc/poller's PlcPoller fits). */
export interface CommandTarget {
  readonly config: PlcConfig;
  write(
    values: Record<string, unknown>,
    opts?: { readBack?: boolean },
  ): Promise<{ values?: Record<string, unknown> }>;
  read(tags: string[]): Promise<Record<string, unknown>>;
}
export interface CommandTargets {
  get(plcId: string): CommandTarget | undefined;
}
/** What the service needs of the WMS link (agent/link's WmsLink fits). */
export interface EventPublisher {
  publishEvent(subtopic: string, payload: unknown): Promise<void>;
}
/** balena update lock: held while a write is in flight so the supervisor does not restart us mid-command. */
export interface UpdateLock {
  withLock<T>(reason: string, fn: () => Promise<T>): Promise<T>;
}

export interface Ack {
  id: string | number | null;
  status: 'accepted' | 'rejected';
  reason?: string;
  /** `duplicate`: this id ran already; nothing is written again and the earlier cmd/result is re-sent. */
  note?: 'duplicate';
}

export interface CommandServiceOptions {
  settings: CommandsSettings;
  dataDir: string;
  pollers: CommandTargets;
  link: EventPublisher;
  audit: AuditLog;
  logger: Logger;
  lock?: UpdateLock;
  /** Clock in epoch ms (tests). */
  now?: () => number;
}

/** Remembered past exp + tolerance by this much more, for clocks that step backwards. */
export const REPLAY_MARGIN_MS = 60_000;

export class CommandService {
  private readonly inflight = new Map<string, number>();
  /** Ids claimed in this process whose result is not out yet: a duplicate of one waits for that result. */
  private readonly active = new Set<string>();
  private readonly tasks = new Set<Promise<unknown>>();
  private readonly now: () => number;
  private readonly lease: LockLease | undefined;

  private constructor(
    private readonly opts: CommandServiceOptions,
    private settings: CommandsSettings,
    private keys: KeySet,
    private readonly replay: ReplayCache,
  ) {
    this.now = opts.now ?? Date.now;
    this.lease = opts.lock && new LockLease(opts.lock, settings.lockLingerMs);
  }

  /** Loads the keys (throws KeyError naming commands.keys.N) and the replay cache under $DATA_DIR/commands. */
  static async create(opts: CommandServiceOptions): Promise<CommandService> {
    const keys = await KeySet.load(opts.settings.keys);
    const replay = await ReplayCache.open(join(opts.dataDir, 'commands'), {
      maxEntries: opts.settings.replayCacheEntries,
    });
    const svc = new CommandService(opts, opts.settings, keys, replay);
    svc.warnIfUnsigned();
    return svc;
  }

  /** New settings from a config change. Throws KeyError and keeps the old ones if a key is bad. */
  async reconfigure(settings: CommandsSettings): Promise<void> {
    this.keys = await KeySet.load(settings.keys);
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
      const opened = await this.open(buf.toString('utf8').trim(), (v) => (id = v));
      kid = opened.kid;
      cmd = parseCommand(opened.doc, opened.kid !== null);
      id = cmd.id;
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
   * A write from the gateway's own page (the HTTP server has checked the token): the same checks,
   * queue bound, durable id, update lock, execution and audit as a WMS command, with `who` (e.g.
   * `dashboard`) in the audit log instead of a key id. The ack and the result are also published on
   * cmd/ack and cmd/result, so the WMS sees the PLC was written locally. Never rejects.
   */
  async local(
    doc: Record<string, unknown>,
    who: string,
  ): Promise<{ ack: Ack; result?: CommandResult }> {
    const received = this.now();
    const nowS = Math.floor(received / 1000);
    let cmd: Command | undefined;
    let ack: Ack;
    let run: (() => Promise<CommandResult>) | undefined;
    try {
      cmd = parseCommand({ iat: nowS, exp: nowS + 60, ...doc }, true);
      run = this.admit(cmd, sha256(JSON.stringify(doc)), received, who);
      ack = run
        ? { id: cmd.id, status: 'accepted' }
        : { id: cmd.id, status: 'accepted', note: 'duplicate' };
    } catch (e) {
      if (!isRejectedError(e))
        this.opts.logger.error({ err: e, who }, 'local command check failed unexpectedly');
      const reason = isRejectedError(e)
        ? e.reason
        : new RejectedError('malformed', undefined, 'internal error while checking').reason;
      ack = { id: cmd?.id ?? peekId(doc), status: 'rejected', reason };
      run = undefined;
    }
    this.reply('cmd/ack', ack);
    const pending = run?.();
    this.logAck(ack, cmd, who, received);
    if (!run)
      await this.audit({
        kind: 'command',
        who,
        id: ack.id,
        what: summary(cmd),
        outcome: ack.note ? 'duplicate' : ack.status,
        ...(ack.reason ? { reason: ack.reason } : {}),
      });
    return pending ? { ack, result: await pending } : { ack };
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

  /** JWS → verified payload; or, with requireSignature false, plain JSON. */
  private async open(text: string, setId: (id: string | number | null) => void) {
    if (looksLikeCompactJws(text)) {
      setId(peekId(readUnverified(text)));
      const v = await verifyCompactJws(text, this.keys);
      return {
        kid: v.kid as string | null,
        doc: parseJsonObject(v.payload),
        hash: sha256(v.payload),
      };
    }
    const doc = parseJsonObject(text);
    setId(peekId(doc));
    if (this.settings.requireSignature)
      throw new RejectedError(
        'unsigned',
        undefined,
        'commands must be a compact JWS (commands.requireSignature is true)',
      );
    return { kid: null, doc, hash: sha256(text) };
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
      this.resend(cmd.id);
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
    else checkRead(target.config, cmd.tags);
    const queued = this.inflight.get(cmd.plc) ?? 0;
    if (queued >= this.settings.queueLength)
      throw new RejectedError(
        'queue-full',
        cmd.plc,
        `${queued} commands waiting (commands.queueLength)`,
      );
    const expSec = cmd.exp ?? received / 1000 + this.settings.maxLifetimeSeconds;
    const until = expSec * 1000 + this.settings.clockToleranceSeconds * 1000 + REPLAY_MARGIN_MS;
    // The ack need not wait for the disk; the PLC must: a command runs only once its id is durable,
    // so a crash can lose a command (the WMS sees no result and retries) but never run one twice.
    const durable = this.replay.claim(cmd.id, hash, until, this.now());
    durable.catch(() => undefined); // awaited in execute
    this.inflight.set(cmd.plc, queued + 1);
    this.active.add(cmd.id);
    return () => this.track(this.execute(cmd, target, kid, durable));
  }

  private async execute(
    cmd: Command,
    target: CommandTarget,
    kid: string | null,
    durable: Promise<void>,
  ): Promise<CommandResult> {
    let result: CommandResult;
    try {
      await durable.catch((e: unknown) => {
        this.opts.logger.error(
          { err: e, command: cmd.id },
          'replay cache write failed; command not run',
        );
        throw new StorageError(e);
      });
      let values: Record<string, unknown> | undefined;
      if (cmd.op === 'write') {
        const readBack = this.settings.readBack;
        const write = () => target.write(cmd.values, { readBack });
        const res = this.lease ? await this.lease.run(`command ${cmd.id}`, write) : await write();
        values = res.values;
      } else values = await target.read(cmd.tags);
      result = {
        id: cmd.id,
        status: 'ok',
        ...(values ? { values: jsonValues(values) } : {}),
        ts: new Date().toISOString(),
      };
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
    this.reply('cmd/result', result);
    const stored = this.replay
      .setResult(result)
      .catch((e: unknown) =>
        this.opts.logger.error({ err: e, command: cmd.id }, 'could not persist command result'),
      );
    this.active.delete(cmd.id); // setResult has put the result in memory: duplicates get it from now on
    const log = {
      command: cmd.id,
      plc: cmd.plc,
      op: cmd.op,
      status: result.status,
      error: result.error,
    };
    if (result.status === 'ok') this.opts.logger.info(log, 'command done');
    else this.opts.logger.warn(log, 'command failed');
    await this.audit({
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
  private resend(id: string): void {
    const earlier = this.replay.lookup(id)?.result;
    if (!earlier && this.active.has(id)) return;
    this.reply(
      'cmd/result',
      earlier ?? {
        id,
        status: 'error',
        error: `${'interrupted' satisfies ResultErrorCode}: the gateway restarted before the PLC answered; check the PLC state before retrying with a new id`,
        ts: new Date().toISOString(),
      },
    );
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

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The audit's `what`: PLC, op and the tags/values (process values, never secrets). */
function summary(cmd: Command | undefined): Record<string, unknown> {
  if (!cmd) return {};
  return cmd.op === 'write'
    ? { plc: cmd.plc, op: cmd.op, values: cmd.values }
    : { plc: cmd.plc, op: cmd.op, tags: cmd.tags };
}
