// A GatewayView the test drives by hand: the runtime's real one is wired by the lead; here the test
// plays the gateway (values, link changes, alerts) to watch what the HTTP side shows.
import { EventEmitter } from 'node:events';
import type {
  GatewaySnapshot,
  GatewayView,
  GatewayViewEvents,
  ValuesEvent,
} from '../../agent/health/gateway-view.js';

export class DrivenView extends EventEmitter<GatewayViewEvents> implements GatewayView {
  state: GatewaySnapshot = {
    gateway: { tenant: 'acme', id: 'gw-01', version: '0.1.0', uptimeS: 3725 },
    plcs: [
      {
        id: 'conveyor-1',
        state: 'connected',
        lastReadTs: new Date().toISOString(),
        values: { speed: 1.5, count: 10, running: true },
        quality: {},
      },
      { id: 'press-2', state: 'disconnected', error: 'ECONNREFUSED', values: {}, quality: {} },
    ],
    wms: {
      connected: true,
      url: 'mqtts://wms-a:8883',
      since: new Date().toISOString(),
      reconnects: 2,
    },
    outbox: { messages: 12, bytes: 4096, dropped: 0, maxBytes: 1024 * 1024 },
    // The real ota/state payload (ota/agent/state-payload.ts) of a gateway that committed 0.1.0 in slot a.
    ota: {
      active: 'a',
      slots: {
        factory: { version: '0.0.9' },
        a: {
          name: 'wms-gateway',
          version: '0.1.0',
          counter: 10,
          installedAt: '2026-11-20T09:59:00Z',
        },
        b: null,
      },
      phase: 'Committed',
      progress: 1,
      update: { id: 'wms-gateway@0.1.0#10', version: '0.1.0', target: 'agent' },
      history: [
        {
          ts: '2026-11-20T10:00:00Z',
          from: 'Probation',
          to: 'Committed',
          update: 'wms-gateway@0.1.0#10',
          active: 'a',
          message: 'slot a (0.1.0) healthy for 60 s; committed',
        },
      ],
      ts: '2026-11-20T10:00:00Z',
    },
    identity: {
      serial: '5E788097FA2DC40D',
      subject: 'CN=gw-01',
      notBefore: '2026-11-01T00:00:00.000Z',
      notAfter: '2027-01-30T00:00:00.000Z',
      renewAt: '2026-12-31T00:00:00.000Z',
      status: 'renewing',
      phase: 'pending',
      ts: '2026-11-30T00:00:00.000Z',
    },
    alerts: [
      {
        ts: new Date().toISOString(),
        level: 'warning',
        code: 'plc.press-2',
        message: 'press-2 disconnected',
      },
    ],
    maintenance: [],
  };

  snapshot(): GatewaySnapshot {
    return structuredClone(this.state);
  }

  values(e: ValuesEvent): void {
    const p = this.state.plcs.find((x) => x.id === e.plc);
    if (p) Object.assign(p.values, e.values);
    this.emit('values', e);
  }
}
