// What the dashboard, /health, diagnose and the watchdog see of the running gateway.
// The runtime implements it; this part only reads it, so it can be built and tested on its own.
import type { EventEmitter } from 'node:events';
import type { OtaStatePayload } from '../../ota/agent/state-payload.js';
import type { PlcState, PlcStatus } from '../../plc/poller/types.js';
import type { CertState } from '../identity/cert-state.js';
import type { PeerView } from '../link/wms-peer.js';
import type { MaintenanceReport } from '../maintenance/report.js';
import type { TrustState } from '../trust/trust-service.js';

export type PlcLinkState = PlcState | 'starting' | string;

export interface PlcView {
  id: string;
  state: PlcLinkState;
  error?: string | undefined;
  lastReadTs?: string | undefined;
  values: Record<string, unknown>;
  quality: Record<string, 'bad'>;
  /** The PLC's tags as configured: what the page may trend and offer to write. */
  tags?: TagMeta[] | undefined;
  /** Values older than this (3 poll intervals) are shown stale. */
  staleAfterMs?: number | undefined;
}

export interface TagMeta {
  name: string;
  type: string;
  writable: boolean;
  min?: number | undefined;
  max?: number | undefined;
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
    delivery?: 'broker' | 'wms-ack' | undefined;
    /** The WMS's own heartbeat: off (not watched), waiting (none yet), alive, silent (3 periods without). */
    peer?:
      { state: string; lastHeartbeat?: string | undefined; periodSeconds?: number } | undefined;
  };
  outbox: {
    messages: number;
    bytes: number;
    dropped: number;
    maxBytes?: number | undefined;
    /** Set while the outbox cannot write (a full disk): readings are being dropped. */
    writeFailure?: { code: string; message: string; since: string } | undefined;
    /** Set while the outbox's bound costs readings (its policy drops them). */
    full?: { since: string; policy: string; dropped: number } | undefined;
  };
  /** The retained ota/state payload; null before OTA is attached. */
  ota: OtaStatePayload | null;
  /** The client certificate and its renewal (cert/state), when mutual TLS is configured. */
  identity?: CertState | undefined;
  /** The trust policy in force (the trust/state payload); null before trust is attached. */
  trust?: TrustState | null;
  /** The next or current maintenance window (the maintenance/window payload); null without windows. */
  maintenanceWindow?: unknown;
  alerts: AlertView[];
  maintenance: MaintenanceReport[];
}

/** Data event: one PLC read. */
export interface ValuesEvent {
  plc: string;
  ts: string;
  values: Record<string, unknown>;
  quality?: Record<string, 'bad'>;
}

/** A change the page shows at once: a PLC's state, the WMS connection, the WMS's own heartbeat. */
export type StatusEvent =
  | { kind: 'plc'; plc: string; status: PlcStatus }
  | { kind: 'wms'; connected: true; url: string }
  | { kind: 'wms'; connected: false; error?: Error }
  | { kind: 'wms-peer'; peer: PeerView };

/** What the running gateway tells its watchers; the event stream sends these to the dashboard. */
export type GatewayViewEvents = {
  /** One PLC read that changed something (only emitted while someone listens). */
  values: [e: ValuesEvent];
  status: [e: StatusEvent];
  alert: [a: AlertView];
  /** A maintenance run's report. */
  maintenance: [report: MaintenanceReport];
};

/** The running gateway as seen from outside: a snapshot, and its events (GatewayViewEvents). */
export interface GatewayView extends EventEmitter<GatewayViewEvents> {
  snapshot(): GatewaySnapshot;
}
