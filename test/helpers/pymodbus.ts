// Debian's python3-pymodbus as a Modbus TCP server the tests did not write (several unit ids on one
// free loopback port), with its own count of client connections.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli.js';
import { freePort } from './ports.js';

/** The Debian interpreter (its dist-packages hold pymodbus), not another python3 first on PATH. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(ROOT, 'test', 'helpers', 'pymodbus-server.py');

export interface Pymodbus {
  port: number;
  /** Client connections open now, and made since start (counted by the server). */
  open(): number;
  total(): number;
  stop(): Promise<void>;
}

export async function startPymodbus(units: number[], timeoutMs = 15_000): Promise<Pymodbus> {
  const port = await freePort();
  const proc = spawn(PYTHON, [SCRIPT, String(port), units.join(',')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let open = 0;
  let total = 0;
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`pymodbus did not start:\n${err}`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pymodbus exited (${code}):\n${err}`));
    });
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const m = /^connections open=(\d+) total=(\d+)/.exec(line);
        if (m) [open, total] = [Number(m[1]), Number(m[2])];
        if (line === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      }
    });
  });
  await ready;
  return {
    port,
    open: () => open,
    total: () => total,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      }),
  };
}

/** The tags of the registers every pymodbus unit serves (see pymodbus-server.py). */
export const PYMODBUS_TAGS = [
  { name: 'speed', area: 'holding', address: 0, type: 'float32' },
  { name: 'count', area: 'holding', address: 2, type: 'uint32' },
  { name: 'temp', area: 'holding', address: 4, type: 'int16' },
  ...[5, 6, 7, 8, 9].map((a) => ({ name: `w${a}`, area: 'holding', address: a, type: 'uint16' })),
];

/** What unit u's tags decode to. */
export function pymodbusValues(u: number): Record<string, number> {
  const v: Record<string, number> = { speed: u + 0.5, count: u * 100_001, temp: -u };
  for (const a of [5, 6, 7, 8, 9]) v[`w${a}`] = 1000 * u + a;
  return v;
}
