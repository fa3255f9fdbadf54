// The live-heap peak of reading the config at 100,000 tags, stage by stage, with the agent's modules
// loaded: the `tags-100k` config of bench/bridge.ts (8 PLCs sharing one 12,500-tag list through a
// YAML alias, flow style), then parseConfigText, validateConfig and the local config hash, each after
// a full GC. Run after `npm run build`:
//   node --import tsx scripts/config-heap.ts            (production flags, as Dockerfile.template)
//   CONFIG_HEAP_FLAGS= node --import tsx scripts/config-heap.ts        (Node's defaults)
//   CONFIG_HEAP_PARSER=yaml node --import tsx scripts/config-heap.ts   (the former parser, `yaml`)
// The heap figures are V8's own (--trace-gc): the largest heap seen before and after any GC in the
// stage. The machine's load changes the times, not the sizes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

const dist = new URL('../dist/', import.meta.url).href;
const FLAGS = (process.env.CONFIG_HEAP_FLAGS ?? '--max-semi-space-size=2 --max-old-space-size=96')
  .split(' ')
  .filter(Boolean);

// The measured process: plain JavaScript on dist/, so no TypeScript loader sits in its heap.
const CHILD = `
const dist = ${JSON.stringify(dist)};
const text = (await import('node:fs')).readFileSync(process.argv[1], 'utf8');
await import(dist + 'agent/runtime/run-agent.js'); // the agent's modules, as at start
const { parseConfigText } = await import(dist + 'platform/config-source.js');
const { validateConfig } = await import(dist + 'agent/config/validate.js');
const { applyEnv } = await import(dist + 'agent/config/load.js');
const { configSha256 } = await import(dist + 'agent/remote-config/config-hash.js');
const { parse } = await import('yaml');
const stage = (name) => (gc(), process.stdout.write('### ' + name + ' ' + Date.now() + '\\n'));
stage('parse');
const doc = process.env.CONFIG_HEAP_PARSER === 'yaml'
  ? parse(text, { maxAliasCount: 100 }) // the parser before 2026-11-30, for comparison
  : parseConfigText(text, 'tags-100k');
stage('validate');
const config = validateConfig(applyEnv(doc, {}), 'tags-100k');
stage('hash');
configSha256(config);
stage('end');
const tags = new Set(config.plcs.flatMap((p) => p.groups.flatMap((g) => g.tags))).size;
process.stdout.write('distinct tag objects ' + tags + '\\n');
`;

{
  const dir = mkdtempSync(join(tmpdir(), 'config-heap-'));
  const file = join(dir, 'gateway.yaml');
  const tags = Array.from({ length: 12_500 }, (_, i) => ({
    name: `t${i}`,
    area: 'holding',
    address: i,
    type: 'int16',
  }));
  const groups = [{ intervalMs: 1000, tags }];
  const config = {
    gateway: { tenant: 'bench', id: 'gw' },
    wms: { urls: ['mqtt://127.0.0.1:1883'], heartbeatSeconds: 3600, format: 'json' },
    plcs: Array.from({ length: 8 }, (_, i) => ({
      id: `plc-${i}`,
      transport: { type: 'tcp', host: '127.0.0.1', port: 20_000 + i },
      fullReportSeconds: 0,
      groups,
    })),
  };
  writeFileSync(file, stringify(config, { collectionStyle: 'flow' }));
  const r = spawnSync(
    process.execPath,
    [...FLAGS, '--expose-gc', '--trace-gc', '--input-type=module', '-e', CHILD, file],
    { encoding: 'utf8', cwd: new URL('..', import.meta.url).pathname },
  );
  rmSync(dir, { recursive: true, force: true });
  let name = 'modules';
  let since = NaN;
  const rows = new Map<string, { before: number; after: number; ms: number }>();
  for (const line of `${r.stdout}\n${r.stderr}`.split('\n')) {
    const s = /^### (\S+) (\d+)/.exec(line);
    if (s) {
      if (rows.has(name) && since) rows.get(name)!.ms = Number(s[2]) - since;
      name = s[1]!;
      since = Number(s[2]);
      continue;
    }
    const g = /: (?:Scavenge|Mark-Compact)[^\d]*?([\d.]+) \([\d.]+\) -> ([\d.]+) \(/.exec(line);
    if (!g) continue;
    const row = rows.get(name) ?? { before: 0, after: 0, ms: 0 };
    row.before = Math.max(row.before, Number(g[1]));
    row.after = Math.max(row.after, Number(g[2]));
    rows.set(name, row);
  }
  console.log(`flags: ${FLAGS.join(' ') || "Node's defaults"}; exit ${r.status ?? r.signal}`);
  for (const [k, v] of rows)
    if (k !== 'end')
      console.log(
        `${k}: heap peak ${v.before} MB (largest after a GC ${v.after} MB)${v.ms ? `, ${v.ms} ms` : ''}`,
      );
  console.log((/distinct tag objects \d+/.exec(r.stdout) ?? ['(did not finish)'])[0]);
  if (r.status !== 0) console.log(r.stderr.split('\n').slice(-8).join('\n'));
}
