// The ceiling for benchmarks: how many plain modbus-serial FC3 requests per second the simulator
// answers, with `clients` connections each keeping one request in flight (as a PLC poller does).
import { ModbusRTU } from '../driver/modbus-serial.js';

export interface RawRateOptions {
  host?: string;
  port: number;
  seconds: number;
  /** Concurrent connections (one request in flight each). */
  clients?: number;
  unitId?: number;
  address?: number;
  /** Registers per request (125 = a full FC3 read). */
  count?: number;
}

export interface RawRate {
  requests: number;
  requestsPerSecond: number;
  registersPerSecond: number;
  errors: number;
}

export async function rawModbusRate(opts: RawRateOptions): Promise<RawRate> {
  const clients = opts.clients ?? 1;
  const count = opts.count ?? 125;
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new ModbusRTU();
      await c.connectTCP(opts.host ?? '127.0.0.1', { port: opts.port });
      c.setID(opts.unitId ?? 1);
      c.setTimeout(2000);
      return c;
    }),
  );
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const end = started + opts.seconds * 1000;
  await Promise.all(
    conns.map(async (c) => {
      while (performance.now() < end) {
        try {
          await c.readHoldingRegisters(opts.address ?? 0, count);
          requests++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = (performance.now() - started) / 1000;
  await Promise.all(conns.map((c) => new Promise<void>((r) => c.close(() => r()))));
  return {
    requests,
    requestsPerSecond: requests / secs,
    registersPerSecond: (requests * count) / secs,
    errors,
  };
}
