// What the command service needs of the rest of the gateway (the pollers, the link, the update lock) and
// what it answers, as narrow interfaces: the service is built and tested without the core, and the
// modules it is split into (the executor, the lock lease, sequences) share these without importing it.
import type { GatewayConfig } from '../config/schema.js';
import type { PlcConfig } from '../../plc/config/schema.js';

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
