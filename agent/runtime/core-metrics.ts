// Feeds the Prometheus instruments from the core's events (the data path itself stays metric-free).
import type { Gateway } from './gateway.js';
import type { Metrics } from '../metrics/metrics.js';
import type { PlcReading } from '../../plc/poller/plc-poller.js';

export function feedCoreMetrics(gateway: Gateway, metrics: Metrics): () => void {
  const onReading = (r: PlcReading) => {
    metrics.pollDuration.observe({ plc: r.plc }, r.durationMs / 1000);
    let read = 0;
    for (const _ in r.values) read++;
    if (read) metrics.tagValuesRead.inc({ plc: r.plc }, read);
    const kinds = new Set(Object.values(r.errors));
    for (const kind of kinds) metrics.pollErrors.inc({ plc: r.plc, kind });
  };
  const onStatus = (e: { plc: string; status: { state: string } }) => {
    metrics.plcConnected.set({ plc: e.plc }, e.status.state === 'disconnected' ? 0 : 1);
    if (e.status.state === 'connected') metrics.reconnects.inc({ link: e.plc });
  };
  const onConnected = () => {
    metrics.wmsConnected.set(1);
    metrics.reconnects.inc({ link: 'wms' });
  };
  const onDisconnected = () => metrics.wmsConnected.set(0);
  let lastPublished = 0;
  let lastDropped = 0;
  // Outbox and publish counters are sampled, not evented: cheap, and exact at scrape granularity.
  const timer = setInterval(() => {
    const s = gateway.link.stats();
    metrics.outboxMessages.set(s.outbox.messages);
    metrics.outboxBytes.set(s.outbox.bytes);
    metrics.outboxMaxBytes.set(gateway.currentConfig.wms.outbox.maxBytes);
    metrics.outboxWriteFailing.set(s.outbox.writeFailure ? 1 : 0);
    if (s.outbox.dropped > lastDropped) metrics.outboxDropped.inc(s.outbox.dropped - lastDropped);
    lastDropped = s.outbox.dropped;
    if (s.published > lastPublished)
      metrics.messagesPublished.inc({ kind: 'data' }, s.published - lastPublished);
    lastPublished = s.published;
  }, 1000);
  timer.unref();
  gateway.pollers.on('reading', onReading);
  gateway.on('status', onStatus);
  gateway.link.on('connected', onConnected);
  gateway.link.on('disconnected', onDisconnected);
  return () => {
    clearInterval(timer);
    gateway.pollers.off('reading', onReading);
    gateway.off('status', onStatus);
    gateway.link.off('connected', onConnected);
    gateway.link.off('disconnected', onDisconnected);
  };
}
