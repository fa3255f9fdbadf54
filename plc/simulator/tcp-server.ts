// Modbus TCP server on node:net: MBAP framing, many clients, several unit ids, pipelined requests.
import { createServer, type Server, type Socket } from 'node:net';
import { handlePdu, type PduHandlerOptions } from './pdu-handler.js';
import type { FaultSet } from './faults.js';
import type { RegisterModel } from './register-model.js';

/** MBAP length field covers unit id + PDU; the largest legal PDU is 253 bytes. */
const MAX_MBAP_LENGTH = 254;
const MBAP_HEADER = 7;
export const DEFAULT_MAX_CLIENTS = 1000;

export interface TcpServerOptions {
  host: string;
  port: number;
  maxClients?: number;
  /** Read on every request, so hooks set later (onRequest) take effect. */
  handler: PduHandlerOptions;
}

export interface TcpServer {
  port: number;
  server: Server;
  clients(): number;
  close(): Promise<void>;
}

export async function startTcpServer(
  model: RegisterModel,
  faults: FaultSet,
  opts: TcpServerOptions,
): Promise<TcpServer> {
  const sockets = new Set<Socket>();
  const handlerOpts = opts.handler;
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined); // a client vanishing is normal
    socket.once('close', () => sockets.delete(socket));
    let pending: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let off = 0;
      socket.cork();
      while (buf.length - off >= MBAP_HEADER) {
        const protocol = buf.readUInt16BE(off + 2);
        const len = buf.readUInt16BE(off + 4);
        if (protocol !== 0 || len < 2 || len > MAX_MBAP_LENGTH) {
          socket.destroy(); // not Modbus TCP: no way to resynchronise a stream
          return;
        }
        if (buf.length - off < 6 + len) break;
        const tid = buf.readUInt16BE(off);
        const unit = buf[off + 6]!;
        const reply = handlePdu(
          model,
          faults,
          unit,
          buf.subarray(off + 7, off + 6 + len),
          handlerOpts,
        );
        off += 6 + len;
        if (reply.kind === 'drop') {
          socket.destroy();
          return;
        }
        if (reply.kind === 'silence') continue;
        const frame = Buffer.allocUnsafe(MBAP_HEADER + reply.pdu.length);
        frame.writeUInt16BE(tid, 0);
        frame.writeUInt16BE(0, 2);
        frame.writeUInt16BE(reply.pdu.length + 1, 4);
        frame[6] = unit;
        reply.pdu.copy(frame, MBAP_HEADER);
        if (reply.delayMs > 0) {
          const t = setTimeout(() => {
            timers.delete(t);
            if (!socket.destroyed) socket.write(frame);
          }, reply.delayMs);
          timers.add(t);
        } else socket.write(frame);
      }
      socket.uncork();
      if (off < buf.length) pending = Buffer.from(buf.subarray(off));
    });
  });
  server.maxConnections = opts.maxClients ?? DEFAULT_MAX_CLIENTS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    port,
    server,
    clients: () => sockets.size,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
