// Registers the core's components with the self-healing watchdog: each PLC poller (restarted by
// re-applying the PLC set without and then with it, which disturbs no other PLC) and the WMS link.
import type { Gateway } from './gateway.js';
import type { Watchdog } from '../watchdog/watchdog.js';

export function watchCore(gateway: Gateway, watchdog: Watchdog): () => void {
  const registered = new Map<string, () => void>();
  const sync = () => {
    const ids = new Set(gateway.currentConfig.plcs.map((p) => p.id));
    for (const [id, off] of registered) {
      if (ids.has(id)) continue;
      off();
      registered.delete(id);
    }
    for (const plc of gateway.currentConfig.plcs) {
      if (registered.has(plc.id)) continue;
      // A poller's stall timeout must allow for its slowest group and request timeout.
      const slowest = Math.max(...plc.groups.map((g) => g.intervalMs), plc.timeoutMs);
      registered.set(
        plc.id,
        watchdog.register({
          name: `plc:${plc.id}`,
          lastProgressMs: () => gateway.pollers.get(plc.id)?.lastProgressMs() ?? performance.now(),
          restart: () => gateway.restartPlc(plc.id),
          stallMs: Math.max(30_000, slowest * 10),
        }),
      );
    }
  };
  sync();
  gateway.on('config-applied', sync);
  return () => {
    gateway.off('config-applied', sync);
    for (const off of registered.values()) off();
  };
}
