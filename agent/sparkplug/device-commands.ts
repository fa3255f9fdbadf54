// DCMD: writes to a PLC's tags from a Sparkplug host. Off unless sparkplug.commands is true; then each
// DCMD becomes one write through the commands service (agent/commands: the same writable/min/max/type
// checks, queue bound, update lock, execution and audit as a signed command). Sparkplug has no reply
// topic, so every refusal or failure is a log line and an `alerts` message; the new value itself
// comes back as DDATA once the poller reads it.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../platform/logger.js';
import { isRejectedError } from '../commands/rejection.js';
import type { AliasTable } from './aliases.js';
import { metricValueForTag } from './datatypes.js';
import { decodePayload, isSparkplugDecodeError, type SpPayload } from './payload-codec.js';

/** What DCMD needs of the commands service (agent/commands' CommandService fits). */
export interface WriteService {
  submitWrite(req: {
    id: string;
    plc: string;
    values: Record<string, unknown>;
    who: string;
  }): Promise<{ status: 'ok' | 'error'; error?: string }>;
}

export interface DeviceCommandsOptions {
  logger: Logger;
  alert: (level: 'warning' | 'critical', code: string, message: string, extra?: object) => void;
  aliases: () => AliasTable;
  enabled: () => boolean;
}

/** Who the audit log names for DCMD writes: the transport, since a DCMD carries no identity. */
export const DCMD_WHO = 'sparkplug-dcmd';

/** DCMDs held while the commands service starts (births go out before it is attached). */
export const DCMD_WAITING_MAX = 100;

export class DeviceCommands {
  private service: WriteService | undefined;
  private waiting: { device: string; payload: Buffer }[] = [];

  constructor(private readonly opts: DeviceCommandsOptions) {}

  /** The commands service is up: DCMDs that arrived meanwhile run now, in order. */
  useService(svc: WriteService): void {
    this.service = svc;
    for (const w of this.waiting.splice(0)) this.handle(w.device, w.payload);
  }

  handle(device: string, payload: Buffer): void {
    if (!this.service && this.opts.enabled()) {
      if (this.waiting.length < DCMD_WAITING_MAX) this.waiting.push({ device, payload });
      else
        this.opts.alert(
          'warning',
          'sparkplug.dcmd-refused',
          `DCMD for ${device} refused: the gateway is still starting`,
          {
            plc: device,
            reason: 'queue-full',
          },
        );
      return;
    }
    const refuse = (reason: string, message: string) =>
      this.opts.alert(
        'warning',
        'sparkplug.dcmd-refused',
        `DCMD for ${device} refused: ${message}`,
        {
          plc: device,
          reason,
        },
      );
    if (!this.opts.enabled())
      return refuse('commands-disabled', 'sparkplug.commands is false (DCMD writes are off)');
    const aliases = this.opts.aliases();
    if (!aliases.has(device)) return refuse('unknown-device', 'no PLC with this id');
    let p: SpPayload;
    try {
      p = decodePayload(payload);
    } catch (e) {
      if (!isSparkplugDecodeError(e)) throw e;
      return refuse('malformed', e.message);
    }
    if (p.metrics.length === 0) return refuse('malformed', 'no metrics');
    const values: Record<string, unknown> = {};
    for (const m of p.metrics) {
      const def =
        m.name !== undefined
          ? aliases.byTag(device, m.name)
          : m.alias !== undefined
            ? aliases.byDeviceAlias(device, m.alias)
            : undefined;
      if (!def)
        return refuse(
          'unknown-tag',
          `no metric ${m.name ?? `alias ${String(m.alias)}`} on ${device}`,
        );
      try {
        values[def.tag.name] = metricValueForTag(def.tag, m);
      } catch (e) {
        return refuse('bad-value', `${def.tag.name}: ${(e as Error).message}`);
      }
    }
    const svc = this.service;
    if (!svc) return refuse('queue-full', 'the commands service is not running');
    const id = `dcmd-${randomUUID()}`;
    svc.submitWrite({ id, plc: device, values, who: DCMD_WHO }).then(
      (r) => {
        if (r.status === 'ok')
          this.opts.logger.info({ command: id, plc: device, values }, 'DCMD written');
        else
          this.opts.alert(
            'warning',
            'sparkplug.dcmd-failed',
            `DCMD for ${device} failed: ${r.error}`,
            {
              plc: device,
              command: id,
            },
          );
      },
      (e: unknown) => {
        if (!isRejectedError(e)) {
          this.opts.logger.error({ err: e, plc: device }, 'DCMD failed unexpectedly');
          return;
        }
        // The commands service's codes, in the kebab-case every reply topic uses.
        refuse(e.code.replace(/_/g, '-'), e.message);
      },
    );
  }
}
