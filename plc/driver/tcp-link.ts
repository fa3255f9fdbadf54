// Modbus TCP: one connection per PLC. Connects with its own timeout (a black-holed address must not hang).
import { Socket } from 'node:net';
import { ModbusRTU } from './modbus-serial.js';
import { ModbusConnectionError } from './errors.js';
import { ModbusLink } from './modbus-link.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;

export interface TcpLinkOptions {
  host: string;
  port: number;
  /** Give up a TCP connect after this long. */
  connectTimeoutMs?: number;
}

export class TcpLink extends ModbusLink {
  readonly description: string;
  private socket: Socket | undefined;

  constructor(private readonly opts: TcpLinkOptions) {
    super();
    this.description = `tcp ${opts.host}:${opts.port}`;
  }

  async open(): Promise<void> {
    if (this.isOpen()) return;
    await this.close();
    const socket = await this.connect();
    const client = new ModbusRTU();
    await client.linkTCP(socket, { port: this.opts.port });
    this.socket = socket;
    this.client = client;
    socket.once('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.client = undefined;
      this.linkDown('connection closed');
    });
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    this.client = undefined;
    if (!s) return;
    this.linkDown('closed');
    if (!s.destroyed) s.destroy();
  }

  private connect(): Promise<Socket> {
    const timeoutMs = this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = new Socket();
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new ModbusConnectionError(`${this.description}: connect timed out after ${timeoutMs} ms`),
        );
      }, timeoutMs);
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ModbusConnectionError(`${this.description}: ${e.code ?? e.message}`, e));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        // Errors after connect show up as 'close'; an unhandled 'error' would crash the process.
        socket.on('error', () => undefined);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 10_000);
        resolve(socket);
      });
      socket.connect({ host: this.opts.host, port: this.opts.port });
    });
  }
}
