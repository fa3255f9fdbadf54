// A real Debian mosquitto broker on a free loopback port, started and stopped by the test.
// Stop/start keep the same port so outage tests look like a broker restart to the agent.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitForPort } from './ports.js';
import { tmpDir } from './tmp.js';

export interface MosquittoTls {
  ca: string; // file paths
  cert: string;
  key: string;
  requireCertificate?: boolean;
  tlsVersion?: 'tlsv1.2' | 'tlsv1.3';
}

/** A broker that requires a client certificate over TLS 1.3, from a test PKI's CA and server pair. */
export function mutualTls(pki: {
  ca: string;
  serverCert: string;
  serverKey: string;
}): MosquittoTls {
  return {
    ca: pki.ca,
    cert: pki.serverCert,
    key: pki.serverKey,
    requireCertificate: true,
    tlsVersion: 'tlsv1.3',
  };
}

export interface Broker {
  port: number;
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Recent broker log text (for debugging failed tests). */
  log(): string;
}

export const MOSQUITTO = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

export async function startMosquitto(
  opts: { tls?: MosquittoTls; port?: number; extra?: string } = {},
): Promise<Broker> {
  const port = opts.port ?? (await freePort());
  const dir = tmpDir('mosq-');
  const conf = join(dir.path, 'mosquitto.conf');
  const lines = [
    'per_listener_settings false',
    'allow_anonymous true',
    'persistence false',
    'log_dest stdout',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'max_inflight_messages 0',
    'max_queued_messages 0',
    'set_tcp_nodelay true',
    `listener ${port} 127.0.0.1`,
  ];
  if (opts.tls) {
    lines.push(`cafile ${opts.tls.ca}`, `certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`);
    lines.push(`require_certificate ${opts.tls.requireCertificate ? 'true' : 'false'}`);
    if (opts.tls.tlsVersion) lines.push(`tls_version ${opts.tls.tlsVersion}`);
  }
  if (opts.extra) lines.push(opts.extra);
  writeFileSync(conf, lines.join('\n') + '\n');
  let proc: ChildProcess | undefined;
  let logText = '';
  const broker: Broker = {
    port,
    url: `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    async start() {
      if (proc) return;
      proc = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      const onData = (d: Buffer) => {
        logText = (logText + d.toString()).slice(-20_000);
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', () => {
        proc = undefined;
      });
      await waitForPort(port);
    },
    async stop() {
      const p = proc;
      if (!p) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      });
      proc = undefined;
    },
    log: () => logText,
  };
  await broker.start();
  const origStop = broker.stop;
  process.once('exit', () => proc?.kill('SIGKILL'));
  broker.stop = async () => {
    await origStop();
  };
  // Directory removal is left to the OS tmp cleaner: a restarted broker still needs its config.
  return broker;
}
