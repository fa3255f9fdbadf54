// `npm run bench [name ...]`: runs the benchmarks, each printing its figures beside the machine's raw baseline.
// Each bench module default-exports an async function that prints its own lines and returns key figures.
import { cpus, totalmem } from 'node:os';

export type BenchFn = (print: (line: string) => void) => Promise<Record<string, number | string>>;

const BENCHES: Record<string, () => Promise<{ default: BenchFn }>> = {
  bridge: () => import('./bridge.js'),
  planner: () => import('./planner.js'),
  poller: () => import('./poller.js'),
  south: () => import('./south.js'),
  commands: () => import('./commands.js'),
  ota: () => import('./ota.js'),
  maintenance: () => import('./maintenance.js'),
  outbox: () => import('./outbox.js'),
  // outbox, commands, ota register here.
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length ? wanted : Object.keys(BENCHES);
const print = (line: string) => process.stdout.write(line + '\n');
print(
  `# wms-gateway bench — ${new Date().toISOString()} — node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB`,
);
for (const name of names) {
  const load = BENCHES[name];
  if (!load) {
    process.stderr.write(`unknown bench "${name}"; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  print(`\n## ${name}`);
  const started = Date.now();
  const figures = await (await load()).default(print);
  print(`(${name}: ${((Date.now() - started) / 1000).toFixed(1)} s) ${JSON.stringify(figures)}`);
}
process.exit(0);
