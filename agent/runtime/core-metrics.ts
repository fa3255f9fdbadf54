// Feeds the Prometheus instruments from the core's events (the data path itself stays metric-free).
import type { Gateway } from './gateway.js';
import type { Metrics } from '../metrics/metrics.js';
import type { PlcReading } from '../../plc/poller/plc-poller.js';
import { certificateNotAfter, loadTlsMaterial } from '../link/tls-material.js';

/** How often the client certificate's expiry is re-read (a renewal or an operator may replace it). */
const CERT_SAMPLE_MS = 60_000;

export function feedCoreMetrics(
  gateway: Gateway,
  metrics: Metrics,
  opts: {
    /** notAfter of the client certificate in use, when it is not the config's (a renewed one). */
    certInUse?: () => string | undefined;
  } = {},
): () => void {
  const onReading = (r: PlcReading) => {
    metrics.pollDuration.observe({ plc: r.plc }, r.durationMs / 1000);
    // Values read are counted by the core's change filter and sampled below: no pass over the
    // values here. Errors are rare: the set is built only when there are some.
    let kinds: Set<string> | undefined;
    for (const tag in r.errors) (kinds ??= new Set()).add(r.errors[tag]!);
    if (kinds) for (const kind of kinds) metrics.pollErrors.inc({ plc: r.plc, kind });
  };
  const lastRead = new Map<string, number>();
  const sampleValuesRead = () => {
    for (const [plc, n] of gateway.valuesRead()) {
      const before = lastRead.get(plc) ?? 0;
      // A PLC removed and added again counts from 0.
      const delta = n >= before ? n - before : n;
      if (delta > 0) metrics.tagValuesRead.inc({ plc }, delta);
      lastRead.set(plc, n);
    }
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
  // Until the first connect the link is down: an offline first boot must show 0, not no series.
  if (!gateway.link.stats().connected) metrics.wmsConnected.set(0);
  const sampleCert = () => {
    const renewed = Date.parse(opts.certInUse?.() ?? '');
    if (renewed) return void metrics.tlsClientCertNotAfter.set(renewed / 1000);
    const tls = gateway.currentConfig.wms.tls;
    try {
      const cert = tls.cert ? loadTlsMaterial(tls).cert : undefined;
      if (cert) metrics.tlsClientCertNotAfter.set(certificateNotAfter(cert).getTime() / 1000);
      else metrics.tlsClientCertNotAfter.reset();
    } catch {
      // Unreadable material is reported by the link's own certificate check; no figure is better
      // than a wrong one here.
      metrics.tlsClientCertNotAfter.reset();
    }
  };
  sampleCert();
  const certTimer = setInterval(sampleCert, CERT_SAMPLE_MS);
  certTimer.unref();
  let lastPublished = 0;
  let lastDropped = 0;
  // Outbox and publish counters are sampled, not evented: cheap, and exact at scrape granularity.
  const timer = setInterval(() => {
    const s = gateway.link.stats();
    metrics.outboxMessages.set(s.outbox.messages);
    metrics.outboxBytes.set(s.outbox.bytes);
    metrics.outboxMaxBytes.set(gateway.currentConfig.wms.outbox.maxBytes);
    metrics.outboxWriteFailing.set(s.outbox.writeFailure ? 1 : 0);
    metrics.outboxFull.set(s.outbox.full ? 1 : 0);
    if (s.outbox.dropped > lastDropped) metrics.outboxDropped.inc(s.outbox.dropped - lastDropped);
    lastDropped = s.outbox.dropped;
    if (s.published > lastPublished)
      metrics.messagesPublished.inc({ kind: 'data' }, s.published - lastPublished);
    lastPublished = s.published;
    sampleValuesRead();
  }, 1000);
  timer.unref();
  gateway.pollers.on('reading', onReading);
  gateway.on('status', onStatus);
  gateway.link.on('connected', onConnected);
  gateway.link.on('disconnected', onDisconnected);
  gateway.on('config-applied', sampleCert);
  // The WMS's own heartbeat (wms.peerHeartbeatSeconds): 1 alive, 0 silent, no series when off.
  const onPeer = (p: { state: string }) => {
    if (p.state === 'alive') metrics.wmsPeerAlive.set(1);
    else if (p.state === 'silent') metrics.wmsPeerAlive.set(0);
    else metrics.wmsPeerAlive.reset();
  };
  gateway.link.on('peer', onPeer);
  return () => {
    clearInterval(timer);
    sampleValuesRead();
    clearInterval(certTimer);
    gateway.off('config-applied', sampleCert);
    gateway.link.off('peer', onPeer);
    gateway.pollers.off('reading', onReading);
    gateway.off('status', onStatus);
    gateway.link.off('connected', onConnected);
    gateway.link.off('disconnected', onDisconnected);
  };
}
