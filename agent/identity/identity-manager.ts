// Certificate renewal over MQTT (CONTRACT.md §7), as a small state machine around the link:
//   ok ──(renewAt reached | signed cert/renew)──▶ pending: fresh key on disk, CSR sent, re-sent with backoff
//   pending ──(cert/issued passes every check)──▶ trial: link reconnects with the new pair
//   trial ──(connected)──▶ ok with the new pair      trial ──(broker refuses it)──▶ ok with the old pair + alert
// Every step is recorded in the identity store before it has effects, so a kill -9 anywhere resumes.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '../../platform/logger.js';
import type { WmsTlsConfig, ClientPair } from '../link/tls-material.js';
import type { WmsLinkEvents } from '../link/wms-link-events.js';
import { Backoff } from '../../platform/backoff.js';
import { isBrokerConnectError, isTlsMaterialError, isWmsTlsError } from '../link/link-errors.js';
import type { IdentityConfig } from './config-schema.js';
import {
  certInfo,
  makeKeyAndCsr,
  parseCertificates,
  renewAt,
  type CertInfo,
} from './certificate.js';
import { IdentityStore, type PendingRecord, type StoredPair } from './identity-store.js';
import { checkIssued, isIssuedRefusal } from './issued-check.js';
import { openPrivateKey, isPemText, PASSPHRASE_ENV } from './key-file.js';
import { isRenewRefusal, RenewRequests, type RenewVerifier } from './renew-request.js';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { certState, type CertState } from './cert-state.js';
import { StepQueue } from './step-queue.js';

// Kept importable from here, where they were declared before the split.
export type { CertState, CertStatus } from './cert-state.js';
export { MAX_QUEUED_INBOUND } from './step-queue.js';

export interface IdentityLink {
  publishEvent(subtopic: string, payload: unknown): Promise<void>;
  publishRetained(subtopic: string, payload: unknown): void;
  subscribe(subtopic: string, handler: (payload: Buffer) => void): void;
  alert(level: 'warning' | 'critical', code: string, message: string, extra?: object): void;
  setClientPair(pair: ClientPair | undefined): void;
  on<K extends 'connected' | 'attempt-failed'>(
    event: K,
    listener: (...args: WmsLinkEvents[K]) => void,
  ): unknown;
  off<K extends 'connected' | 'attempt-failed'>(
    event: K,
    listener: (...args: WmsLinkEvents[K]) => void,
  ): unknown;
}

export interface IdentityManagerOptions {
  link: IdentityLink;
  config: IdentityConfig;
  tls: WmsTlsConfig;
  gatewayId: string;
  dataDir: string;
  passphrase: string | undefined;
  logger: Logger;
  verifyRenew: RenewVerifier;
}

/** The longest single timer: due times are re-evaluated at least this often. */
const MAX_TIMER_MS = 3600_000;

export class IdentityManager {
  private readonly store: IdentityStore;
  private readonly log: Logger;
  private current!: { stored: StoredPair | null; info: CertInfo };
  private pending: (PendingRecord & { nextSendAt: number }) | undefined;
  private trial: { previous: StoredPair | null; refusals: number } | undefined;
  private lastError: { reason: string; detail: string } | undefined;
  private readonly known = new Set<string>();
  private readonly csrRetry: Backoff;
  private readonly renewRetry: Backoff;
  private renewNotBefore = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly steps: StepQueue;
  private started = false;
  private readonly renewRequests: RenewRequests;
  private readonly onConnected = () => this.enqueue(() => this.confirmTrial());
  private readonly onAttemptFailed = (err: Error) => this.enqueue(() => this.trialFailure(err));

  constructor(private readonly opts: IdentityManagerOptions) {
    this.store = new IdentityStore(opts.dataDir);
    this.log = opts.logger.child({ component: 'identity' });
    this.steps = new StepQueue(this.log);
    const c = opts.config;
    this.csrRetry = new Backoff(c.retryMinSeconds * 1000, c.retryMaxSeconds * 1000);
    this.renewRetry = new Backoff(c.retryMinSeconds * 1000, c.retryMaxSeconds * 1000);
    this.renewRequests = new RenewRequests(opts.verifyRenew, c.clockToleranceSeconds);
  }

  /** Mutual TLS is configured, so there is an identity to keep. */
  static applies(tls: WmsTlsConfig): boolean {
    return Boolean(tls.cert && tls.key);
  }

  async start(): Promise<void> {
    const active = await this.store.readActive();
    this.current = {
      stored: active?.current ?? null,
      info: this.loadInfo(active?.current ?? null),
    };
    if (active?.state === 'trial') this.trial = { previous: active.previous ?? null, refusals: 0 };
    this.known.add(this.current.info.fingerprint256);
    const p = await this.store.readPending();
    if (p && !this.trial) this.pending = { ...p, nextSendAt: 0 };
    this.opts.link.subscribe('cert/issued', (b) => this.inbound(() => this.onIssued(b)));
    this.opts.link.subscribe('cert/renew', (b) => this.inbound(() => this.onRenew(b)));
    this.opts.link.on('connected', this.onConnected);
    this.opts.link.on('attempt-failed', this.onAttemptFailed);
    this.started = true;
    if (this.trial)
      this.log.info({ serial: this.current.info.serial }, 'resuming a certificate trial');
    if (this.pending) this.log.info({ id: this.pending.id }, 'resuming a pending CSR');
    await this.publishState();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    this.opts.link.off('connected', this.onConnected);
    this.opts.link.off('attempt-failed', this.onAttemptFailed);
    await this.steps.idle();
  }

  state(): CertState {
    const now = Date.now();
    const phase = this.trial ? 'trial' : this.pending ? 'pending' : 'idle';
    return certState(this.current.info, this.renewAtDate(), phase, this.lastError, now);
  }

  // ---- scheduling ----

  private enqueue(job: () => Promise<void>): void {
    this.steps.run(job);
  }

  private inbound(job: () => Promise<void>): void {
    this.steps.inbound(job);
  }

  private renewAtDate(): Date {
    return renewAt(this.current.info, this.opts.config);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (!this.started || !this.opts.config.renewal || this.trial) return;
    const due = this.pending
      ? this.pending.nextSendAt
      : Math.max(this.renewAtDate().getTime(), this.renewNotBefore);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, due - Date.now()));
    this.timer = setTimeout(() => this.enqueue(() => this.tick()), delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (!this.started || this.trial) return;
    const now = Date.now();
    if (this.pending) {
      if (now >= this.pending.nextSendAt) await this.sendCsr();
    } else if (now >= this.renewAtDate().getTime() && now >= this.renewNotBefore) {
      await this.startRenewal('renewal');
    }
    await this.publishState();
    this.schedule();
  }

  // ---- renewal ----

  private async startRenewal(reason: PendingRecord['reason']): Promise<void> {
    if (this.trial) return;
    if (this.pending) {
      this.pending.reason = reason;
      return this.sendCsr();
    }
    const passphrase = this.opts.passphrase;
    if (passphrase === undefined) {
      this.fail(
        'no-passphrase',
        `${PASSPHRASE_ENV} is not set: a new key cannot be stored encrypted`,
      );
      this.renewNotBefore = Date.now() + this.renewRetry.next();
      return;
    }
    const id = randomUUID();
    const { key, csr } = await makeKeyAndCsr(this.opts.gatewayId);
    const keyName = await this.store.writeKey(id, key, passphrase);
    const rec: PendingRecord = {
      id,
      csr,
      key: keyName,
      reason,
      createdAt: new Date().toISOString(),
    };
    await this.store.writePending(rec);
    this.pending = { ...rec, nextSendAt: 0 };
    this.csrRetry.reset();
    this.log.info({ id, reason }, 'certificate renewal started: new key pair made');
    await this.sendCsr();
  }

  private async sendCsr(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    const i = this.current.info;
    p.nextSendAt = Date.now() + this.csrRetry.next();
    await this.opts.link.publishEvent('cert/csr', {
      id: p.id,
      csr: p.csr,
      reason: p.reason,
      current: { serial: i.serial, notAfter: i.notAfter.toISOString() },
    });
    this.log.info({ id: p.id, retryAt: new Date(p.nextSendAt).toISOString() }, 'CSR sent');
  }

  private async onIssued(payload: Buffer): Promise<void> {
    const p = this.pending;
    const cfg = this.opts.config;
    let accepted;
    try {
      accepted = await checkIssued(payload, {
        pending: p && {
          id: p.id,
          key: async () =>
            openPrivateKey(
              readFileSync(this.store.path(p.key)),
              this.opts.passphrase,
              `identity/${p.key}`,
            ),
        },
        gatewayId: this.opts.gatewayId,
        issuerCaPem: this.issuerCaPem(),
        known: this.known,
        maxBytes: cfg.maxIssuedBytes,
        maxChainLength: cfg.maxChainLength,
        clockToleranceMs: cfg.clockToleranceSeconds * 1000,
        now: new Date(),
      });
    } catch (e) {
      if (!isIssuedRefusal(e)) throw e;
      this.fail(e.reason, e.detail);
      await this.publishState();
      return;
    }
    const stored: StoredPair = {
      cert: await this.store.writeCert(accepted.info.serial, accepted.pem),
      key: p!.key,
      serial: accepted.info.serial,
    };
    const previous = this.current.stored;
    // The switch point: from here a restart tries the new pair, and the broker decides.
    await this.store.writeActive({
      current: stored,
      state: 'trial',
      previous,
      since: new Date().toISOString(),
    });
    await this.store.clearPending();
    this.pending = undefined;
    this.trial = { previous, refusals: 0 };
    this.current = { stored, info: accepted.info };
    this.known.add(accepted.info.fingerprint256);
    this.log.info(
      { serial: accepted.info.serial, notAfter: accepted.info.notAfter.toISOString() },
      'issued certificate accepted: reconnecting with it',
    );
    this.opts.link.setClientPair(this.store.pairOf(stored));
    await this.publishState();
  }

  private async confirmTrial(): Promise<void> {
    if (!this.trial) return;
    const since = new Date().toISOString();
    await this.store.writeActive({ current: this.current.stored, state: 'active', since });
    this.trial = undefined;
    this.lastError = undefined;
    this.renewRetry.reset();
    this.renewNotBefore = 0;
    await this.store.prune([this.current.stored?.cert, this.current.stored?.key]);
    this.log.info({ serial: this.current.info.serial }, 'certificate renewed: the broker took it');
    await this.publishState();
    this.schedule();
  }

  private async trialFailure(err: Error): Promise<void> {
    if (!this.trial) return;
    const refused =
      isWmsTlsError(err) ||
      isTlsMaterialError(err) ||
      (isBrokerConnectError(err) && (err.kind === 'closed' || err.kind === 'rejected'));
    if (!refused) return; // an unreachable broker says nothing about the certificate
    this.trial.refusals++;
    if (this.trial.refusals < this.opts.config.brokerRefusals) return;
    const refusedSerial = this.current.info.serial;
    const previous = this.trial.previous;
    await this.store.writeActive({
      current: previous,
      state: 'active',
      since: new Date().toISOString(),
    });
    this.trial = undefined;
    this.current = { stored: previous, info: this.loadInfo(previous) };
    this.opts.link.setClientPair(previous ? this.store.pairOf(previous) : undefined);
    await this.store.prune([previous?.cert, previous?.key]);
    this.renewNotBefore = Date.now() + this.renewRetry.next();
    const detail = `the broker refused certificate ${refusedSerial} (${err.message}); back on ${this.current.info.serial}`;
    this.lastError = { reason: 'broker-refused', detail };
    this.opts.link.alert('critical', 'identity.cert-refused-by-broker', detail, {
      refused: refusedSerial,
      serial: this.current.info.serial,
    });
    await this.publishState();
    this.schedule();
  }

  private async onRenew(payload: Buffer): Promise<void> {
    try {
      const r = await this.renewRequests.check(payload);
      this.log.info({ id: r.id, kid: r.kid }, 'signed cert/renew received');
    } catch (e) {
      if (!isRenewRefusal(e)) throw e;
      this.fail(e.reason, e.detail);
      await this.publishState();
      return;
    }
    if (!this.opts.config.renewal) {
      this.fail('renewal-off', 'identity.renewal is false');
    } else if (this.trial) {
      this.log.info('cert/renew while a new certificate is on trial: ignored');
    } else {
      this.renewNotBefore = 0;
      await this.startRenewal('requested');
    }
    await this.publishState();
    this.schedule();
  }

  // ---- helpers ----

  private fail(reason: string, detail: string): void {
    this.lastError = { reason, detail };
    this.log.warn({ reason, detail }, 'certificate change refused');
    this.opts.link.alert('warning', 'identity.cert-refused', `${reason}: ${detail}`, { reason });
  }

  private issuerCaPem(): string | undefined {
    const v = this.opts.config.issuerCa ?? this.opts.tls.ca;
    if (!v) return undefined;
    if (isPemText(v)) return v;
    try {
      return readFileSync(v, 'utf8');
    } catch {
      return undefined;
    }
  }

  private loadInfo(stored: StoredPair | null): CertInfo {
    const src = stored ? this.store.path(stored.cert) : this.opts.tls.cert!;
    const pem = isPemText(src) ? src : readFileSync(src);
    return certInfo(parseCertificates(pem)[0]!);
  }

  private async publishState(): Promise<void> {
    const s = this.state();
    this.opts.link.publishRetained('cert/state', s);
    // For `diagnose`, which runs as another process.
    await writeFileAtomic(this.store.path('state.json'), JSON.stringify(s) + '\n', 0o644).catch(
      (e: Error) => this.log.warn({ err: e.message }, 'could not write identity/state.json'),
    );
  }
}
