// The reference signer's MQTT side (`wms-gateway pki serve`): answer every `cert/csr` of a tenant with a
// certificate for the gateway the topic names, on that gateway's `cert/issued`. What a WMS does, kept
// small: a CSR whose CN is not the gateway in the topic, or whose self-signature fails, is not answered.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { signCsr, type CaPair } from './issuer.js';

export interface SignerOptions {
  url: string;
  tenant: string;
  ca: CaPair;
  caPem: string;
  lifetimeSeconds: number;
  /** TLS options for the signer's own connection (ca, cert, key buffers). */
  tls?: Pick<IClientOptions, 'ca' | 'cert' | 'key'>;
  clientId?: string;
  /** One line per event (issued / refused), for the operator. */
  log: (event: Record<string, unknown>) => void;
}

export interface Signer {
  issued: number;
  close(): Promise<void>;
}

const MAX_CSR_MESSAGE = 64 * 1024;
const TOPIC = /^wms\/([^/]+)\/([^/]+)\/cert\/csr$/;

export async function startSigner(o: SignerOptions): Promise<Signer> {
  const client: MqttClient = await mqtt.connectAsync(o.url, {
    clientId: o.clientId ?? `wms-pki-${process.pid}`,
    protocolVersion: 5,
    reconnectPeriod: 1000,
    ...(o.tls ?? {}),
    ...(o.url.startsWith('mqtts') ? { minVersion: 'TLSv1.3' as const } : {}),
  });
  const signer: Signer = {
    issued: 0,
    close: () => client.endAsync(),
  };
  client.on('message', (topic, payload) => {
    void (async () => {
      const m = TOPIC.exec(topic);
      if (!m) return;
      const gateway = m[2]!;
      try {
        if (payload.length > MAX_CSR_MESSAGE) throw new Error('CSR message too large');
        const req = JSON.parse(payload.toString()) as { id?: unknown; csr?: unknown };
        if (typeof req.id !== 'string' || typeof req.csr !== 'string')
          throw new Error('cert/csr needs id and csr strings');
        const escaped = gateway.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const { cert } = await signCsr(req.csr, o.ca, o.lifetimeSeconds, {
          expectCn: new RegExp(`^${escaped}$`),
        });
        await client.publishAsync(
          `wms/${m[1]}/${gateway}/cert/issued`,
          JSON.stringify({ id: req.id, cert }),
          { qos: 1 },
        );
        signer.issued++;
        o.log({ event: 'issued', gateway, id: req.id, lifetimeSeconds: o.lifetimeSeconds });
      } catch (e) {
        o.log({ event: 'refused', gateway, error: (e as Error).message });
      }
    })();
  });
  await client.subscribeAsync(`wms/${o.tenant}/+/cert/csr`, { qos: 1 });
  o.log({ event: 'listening', url: o.url, topic: `wms/${o.tenant}/+/cert/csr` });
  return signer;
}
