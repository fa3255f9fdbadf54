// The gw.* device tags an operator sees in the balena dashboard, derived from the live view and health.
import type { GatewaySnapshot } from '../health/gateway-view.js';
import type { HealthState } from '../health/monitor.js';

export function fleetTags(
  s: GatewaySnapshot,
  health: HealthState,
  ota: string,
): Record<string, string> {
  const up = s.plcs.filter((p) => p.state === 'connected').length;
  return {
    'gw.health': health,
    'gw.version': s.gateway.version,
    'gw.plcs': `${up}/${s.plcs.length}`,
    'gw.wms': !s.wms.connected
      ? 'disconnected'
      : s.wms.peer?.state === 'silent'
        ? 'connected, WMS silent'
        : 'connected',
    // Rounded so the tag changes when the backlog does, not on every message.
    'gw.outbox': s.outbox.messages === 0 ? 'empty' : `${roundSig(s.outbox.messages)} msgs`,
    'gw.ota': ota,
  };
}

function roundSig(n: number): number {
  if (n < 100) return n;
  const p = 10 ** (Math.floor(Math.log10(n)) - 1);
  return Math.round(n / p) * p;
}
