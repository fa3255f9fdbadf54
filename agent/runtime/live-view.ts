// The running gateway as the dashboard, /health, the watchdog and the device tags see it
// (the GatewayView of agent/health/gateway-view.ts), built from the core without reaching into it.
import { EventEmitter } from 'node:events';
import type { Gateway } from './gateway.js';
import type {
  AlertView,
  GatewaySnapshot,
  GatewayView,
  GatewayViewEvents,
  TagMeta,
} from '../health/gateway-view.js';
import type { CertState } from '../identity/cert-state.js';
import type { MaintenanceReport } from '../maintenance/report.js';
import type { TrustState } from '../trust/trust-service.js';
import type { OtaStatePayload } from '../../ota/agent/state-payload.js';
import type { PlcConfig } from '../../plc/config/schema.js';
import type { LiveValues } from './gateway.js';

const MAX_ALERTS = 50;
const MAX_REPORTS = 20;
/** A PLC's values are stale after this many of its slowest poll interval without a read. */
const STALE_INTERVALS = 3;
const MIN_STALE_MS = 3000;

export class LiveView extends EventEmitter<GatewayViewEvents> implements GatewayView {
  private readonly alerts: AlertView[] = [];
  private readonly reports: MaintenanceReport[] = [];
  ota: () => OtaStatePayload | null = () => null;
  identity: () => CertState | undefined = () => undefined;
  trust: () => TrustState | null = () => null;
  maintenanceWindow: () => unknown = () => null;

  constructor(private readonly gateway: Gateway) {
    super();
    this.setMaxListeners(100);
    // Values are forwarded only while someone listens (a dashboard client): with none, the core
    // does not even build the event (it checks its own listener count on the hot path).
    const forwardValues = (v: LiveValues) => this.emit('values', v);
    // node's own listener bookkeeping events are not in the view's event map: watched untyped.
    const bookkeeping = this as EventEmitter;
    bookkeeping.on('newListener', (ev: string | symbol) => {
      if (ev === 'values' && this.listenerCount('values') === 0)
        gateway.on('values', forwardValues);
    });
    bookkeeping.on('removeListener', (ev: string | symbol) => {
      if (ev === 'values' && this.listenerCount('values') === 0)
        gateway.off('values', forwardValues);
    });
    gateway.on('status', (s) => this.emit('status', { kind: 'plc', ...s }));
    gateway.on('alert', (a: AlertView) => {
      this.alerts.unshift(a);
      this.alerts.length = Math.min(this.alerts.length, MAX_ALERTS);
      this.emit('alert', a);
    });
    gateway.link.on('connected', (e) =>
      this.emit('status', { kind: 'wms', connected: true, ...e }),
    );
    gateway.link.on('disconnected', (e) =>
      this.emit('status', { kind: 'wms', connected: false, ...e }),
    );
    gateway.link.on('peer', (peer) => this.emit('status', { kind: 'wms-peer', peer }));
  }

  addReport(report: MaintenanceReport): void {
    this.reports.unshift(report);
    this.reports.length = Math.min(this.reports.length, MAX_REPORTS);
    this.emit('maintenance', report);
  }

  snapshot(): GatewaySnapshot {
    const g = this.gateway;
    const link = g.link.stats();
    return {
      gateway: {
        tenant: g.tenant,
        id: g.gatewayId,
        version: g.version,
        uptimeS: g.uptimeSeconds(),
      },
      plcs: g.plcViews().map((p) => {
        const meta = plcMeta(g.currentConfig.plcs.find((c) => c.id === p.id));
        // values and quality stay unbuilt for a caller that only looks at states (the health
        // monitor, the device tags): getters that are own enumerable properties, so JSON and
        // spreading still see them.
        return {
          id: p.id,
          state: p.state,
          error: p.error,
          lastReadTs: p.lastReadTs,
          get values() {
            return p.values;
          },
          get quality() {
            return p.quality;
          },
          tags: meta.tags,
          staleAfterMs: meta.staleAfterMs,
        };
      }),
      wms: {
        connected: link.connected,
        url: link.url,
        since: link.since,
        reconnects: link.reconnects,
        delivery: link.delivery,
        peer: link.peer,
      },
      outbox: { ...link.outbox, maxBytes: g.currentConfig.wms.outbox.maxBytes },
      ota: this.ota(),
      identity: this.identity(),
      trust: this.trust(),
      maintenanceWindow: this.maintenanceWindow(),
      alerts: [...this.alerts],
      maintenance: [...this.reports],
    };
  }
}

interface PlcMeta {
  tags?: TagMeta[];
  staleAfterMs?: number;
}

/** Built once per PLC config object (a config change brings new objects), not on every snapshot. */
const metaCache = new WeakMap<PlcConfig, PlcMeta>();
const NO_META: PlcMeta = {};

/** What the page needs of a PLC's config: its tags (to trend and to offer writes) and staleness. */
function plcMeta(p: PlcConfig | undefined): PlcMeta {
  if (!p) return NO_META;
  let meta = metaCache.get(p);
  if (meta) return meta;
  const tags: TagMeta[] = [];
  let slowest = 0;
  for (const g of p.groups) {
    slowest = Math.max(slowest, g.intervalMs);
    for (const t of g.tags)
      tags.push({
        name: t.name,
        type: t.type,
        writable: t.writable === true,
        ...(t.min !== undefined ? { min: t.min } : {}),
        ...(t.max !== undefined ? { max: t.max } : {}),
      });
  }
  meta = { tags, staleAfterMs: Math.max(MIN_STALE_MS, slowest * STALE_INTERVALS) };
  metaCache.set(p, meta);
  return meta;
}
