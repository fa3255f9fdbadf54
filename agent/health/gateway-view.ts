// What the dashboard, /health, diagnose and the watchdog see of the running gateway.
// The runtime implements it; this part only reads it, so it can be built and tested on its own.
import type { EventEmitter } from 'node:events';
import type { OtaStatePayload } from '../../ota/agent/state-payload.js';
import type { PlcState } from '../../plc/poller/types.js';

export type PlcLinkState = PlcState | 'starting' | string;

export interface PlcView {
  id: string;
  state: PlcLinkState;
  error?: string | undefined;
  lastReadTs?: string | undefined;
  values: Record<string, unknown>;
  quality: Record<string, 'bad'>;
}

export interface AlertView {
  ts: string;
  level: 'warning' | 'critical';
  code: string;
  message: string;
}

export interface GatewaySnapshot {
  gateway: { tenant: string; id: string; version: string; uptimeS: number };
  plcs: PlcView[];
  wms: {
    connected: boolean;
    url?: string | undefined;
    since?: string | undefined;
    reconnects: number;
  };
  outbox: { messages: number; bytes: number; dropped: number; maxBytes?: number | undefined };
  /** The retained ota/state payload; null before OTA is attached. */
  ota: OtaStatePayload | null;
  alerts: AlertView[];
  maintenance: unknown[];
}

/** Data event: one PLC read. */
export interface ValuesEvent {
  plc: string;
  ts: string;
  values: Record<string, unknown>;
  quality?: Record<string, 'bad'>;
}

/**
 * The running gateway as seen from outside. Events: 'values' (ValuesEvent), 'status' (any JSON:
 * a link, OTA or health change), 'alert' (AlertView), 'maintenance' (a maintenance report).
 */
export interface GatewayView extends EventEmitter {
  snapshot(): GatewaySnapshot;
}
