// The one message the agent sends the launcher over the child IPC channel: its link health.
// Launcher and agent share this file so the format cannot drift.
import type { Health } from '../device/state-store.js';

export const HEALTH_MESSAGE = 'wms-gateway:health';

export interface HealthMessage {
  type: typeof HEALTH_MESSAGE;
  plcsOk: number;
  plcsTotal: number;
  wmsConnected: boolean;
}

export function parseHealthMessage(m: unknown): Omit<HealthMessage, 'type'> | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const o = m as Record<string, unknown>;
  if (o.type !== HEALTH_MESSAGE) return undefined;
  const n = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 100_000;
  if (!n(o.plcsOk) || !n(o.plcsTotal) || typeof o.wmsConnected !== 'boolean') return undefined;
  return {
    plcsOk: o.plcsOk as number,
    plcsTotal: o.plcsTotal as number,
    wmsConnected: o.wmsConnected,
  };
}

/** The baseline when no report came (nothing healthy is required of a switch with nothing to compare). */
export const NO_HEALTH: Health = { plcsOk: 0, plcsTotal: 0, wmsConnected: false };
