// A broker that only speaks TLS 1.2: mosquitto 2.0's `tls_version tlsv1.2` is a minimum (it still
// negotiates 1.3), so a real TLS 1.2-only front (node:tls, maxVersion TLSv1.2) forwards to a plain mosquitto.
import { connect } from 'node:net';
import { createServer, type Server } from 'node:tls';
import { readFileSync } from 'node:fs';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';

export async function startTls12Broker(tls: { ca: string; cert: string; key: string }): Promise<{
  url: string;
  stop: () => Promise<void>;
}> {
  const inner: Broker = await startMosquitto();
  const port = await freePort();
  const server: Server = createServer(
    {
      ca: readFileSync(tls.ca),
      cert: readFileSync(tls.cert),
      key: readFileSync(tls.key),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    },
    (sock) => {
      const up = connect(inner.port, '127.0.0.1');
      sock.pipe(up).pipe(sock);
      sock.on('error', () => up.destroy());
      up.on('error', () => sock.destroy());
    },
  );
  server.on('tlsClientError', () => {}); // our client refusing TLS 1.2 is the point of the test
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `mqtts://127.0.0.1:${port}`,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await inner.stop();
    },
  };
}
