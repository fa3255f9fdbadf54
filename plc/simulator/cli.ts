// `wms-gateway simulate [--port N] [--host ADDR] [--map FILE]`: the simulator in the foreground until SIGINT/SIGTERM.
import { UsageError } from '../../platform/usage-error.js';
import { demoMap } from './demo.js';
import {
  isSimulatorMapError,
  loadSimulatorMap,
  parseSimulatorMap,
  type SimulatorMap,
} from './map.js';
import { startSimulator } from './simulator.js';

function describe(map: SimulatorMap): string[] {
  const lines: string[] = [];
  for (const u of map.units) {
    lines.push(`unit ${u.id}: ${u.entries.length} value(s)`);
    for (const e of u.entries) {
      const t = e.tag;
      const where = `${t.area} ${t.address}${t.type === 'bit' ? `.${t.bit}` : ''}`;
      const { kind, ...params } = e.gen;
      const what =
        kind === 'value'
          ? `= ${JSON.stringify((params as { value: unknown }).value)}`
          : `${kind} ${JSON.stringify(params)}`;
      lines.push(
        `  ${t.name.padEnd(18)} ${where.padEnd(14)} ${t.type.padEnd(7)} ${t.byteOrder}  ${what}`,
      );
    }
  }
  if (map.faults.length) lines.push(`faults: ${map.faults.length}`);
  return lines;
}

export async function runSimulatorCli(opts: {
  port: string;
  host: string;
  map?: string;
}): Promise<void> {
  const port = Number(opts.port);
  if (!/^\d+$/.test(opts.port) || port > 65535)
    throw new UsageError(`--port: must be 0..65535 (got "${opts.port}")`);
  let map: SimulatorMap;
  try {
    map = opts.map ? loadSimulatorMap(opts.map) : parseSimulatorMap(demoMap);
  } catch (e) {
    if (isSimulatorMapError(e)) throw new UsageError(`--map ${opts.map ?? '(demo)'}: ${e.message}`);
    throw e;
  }
  let sim;
  try {
    sim = await startSimulator({ host: opts.host, port, map });
  } catch (e) {
    if (isSimulatorMapError(e)) throw new UsageError(`--map ${opts.map ?? '(demo)'}: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
      throw new UsageError(`cannot listen on ${opts.host}:${port}: ${code}`);
    throw e;
  }
  const out = process.stdout;
  out.write(
    `Modbus TCP simulator listening on ${sim.host}:${sim.port} (${opts.map ? `map ${opts.map}` : 'demo map'}, tick ${map.tickMs} ms)\n`,
  );
  for (const line of describe(map)) out.write(line + '\n');
  out.write('Ctrl-C to stop\n');
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await sim.close();
  out.write('simulator stopped\n');
}
