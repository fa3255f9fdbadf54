// OTA bench: full vs delta bundle size for a one-line change in the agent's own source tree and for a
// PLC map edit, beside xdelta3 on the same files in the same run; apply, switch and rollback times with
// the real launcher. Baselines from the same run: xdelta3 (tree tar and changed file alone), a bare
// `node` process start (what any switch costs at least).
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create } from 'tar';
import { ROOT } from '../test/helpers/cli.js';
import { tmpDir } from '../test/helpers/tmp.js';
import {
  agentFor,
  kit,
  otaConfig,
  packDelta,
  packFull,
  startLauncher,
  state,
  writeAgent,
  writeConfig,
} from '../test/ota/ota-fixtures.js';

const CHANGED = 'ota/device/states.ts';

function xdelta(a: string, b: string, out: string): number {
  execFileSync('xdelta3', ['-e', '-9', '-S', 'djw', '-f', '-s', a, b, out], { stdio: 'ignore' });
  return statSync(out).size;
}

function tarTree(dir: string, out: string): void {
  const files = execFileSync('find', ['.', '-type', 'f'], { cwd: dir, encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .sort();
  create({ cwd: dir, file: out, sync: true, portable: true, mtime: new Date(0) }, files);
}

async function until(fn: () => boolean, timeoutMs = 30_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error('bench: timeout');
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now();
}

export default async function bench(print: (line: string) => void) {
  const tmp = tmpDir('wmsgw-bench-ota-');
  const k = await kit();
  const t = (p: string) => join(tmp.path, p);
  try {
    // 1. The agent's own source tree, and the same with one line changed.
    const v1 = t('v1');
    for (const d of ['platform', 'agent', 'plc', 'ota', 'bin', 'package.json'])
      cpSync(join(ROOT, d), join(v1, d), { recursive: true });
    const v2 = t('v2');
    cpSync(v1, v2, { recursive: true });
    const src = readFileSync(join(v2, CHANGED), 'utf8');
    writeFileSync(
      join(v2, CHANGED),
      src.replace('export const MAX_TRANSITIONS = 28;', 'export const MAX_TRANSITIONS = 30;'),
    );
    const full = await packFull(v2, k.opts({ version: '2.0.1', counter: 3 }), t('full.bundle'));
    const delta = await packDelta(
      v1,
      v2,
      { ...k.opts({ version: '2.0.1', counter: 3 }), baseVersion: '2.0.0' },
      t('delta.bundle'),
    );
    tarTree(v1, t('v1.tar'));
    tarTree(v2, t('v2.tar'));
    const xdTree = xdelta(t('v1.tar'), t('v2.tar'), t('tree.xd3'));
    const xdFile = xdelta(join(v1, CHANGED), join(v2, CHANGED), t('file.xd3'));
    await packFull(v1, k.opts({ version: '2.0.0', counter: 2 }), t('full-v1.bundle'));
    const xdBundles = xdelta(t('full-v1.bundle'), t('full.bundle'), t('bundles.xd3'));
    // What no signed delta can go below: a signature, the new tree hash and each changed file's hash.
    const changed = delta.manifest.payload.length;
    const floor = 64 + 32 + 32 * changed;
    const patch = delta.manifest.payload.reduce((n, p) => n + p.size, 0);
    const files = delta.manifest.files.length;
    print(
      `agent tree: ${files} files, ${statSync(t('v2.tar')).size} B as tar; one line changed in ${CHANGED}`,
    );
    print(
      `  full bundle ${full.bytes} B | delta bundle ${delta.bytes} B (payload ${patch} B, manifest+tar ${delta.bytes - patch} B)`,
    );
    print(
      `  baseline xdelta3: tree tar ${xdTree} B, changed file alone ${xdFile} B, full bundle → full bundle ${xdBundles} B`,
    );
    print(
      `  incompressible floor of a signed delta: ${floor} B (64 B signature + 32 B tree hash + 32 B per changed file)`,
    );
    print(
      `  delta / xdelta3(tree tar) = ${(delta.bytes / xdTree).toFixed(2)}; delta / xdelta3(bundles) = ${(delta.bytes / xdBundles).toFixed(2)}; payload / xdelta3(file) = ${(patch / xdFile).toFixed(2)}`,
    );

    // 2. A PLC map edit: 20 PLCs x 50 tags, one tag address changed.
    const map = (addr: number) =>
      'plcs:\n' +
      Array.from({ length: 20 }, (_, p) =>
        [
          `  - id: plc-${p}`,
          `    transport: { type: tcp, host: 10.0.${p}.5, port: 502 }`,
          '    groups:',
          '      - intervalMs: 500',
          '        tags:',
          ...Array.from(
            { length: 50 },
            (_, i) =>
              `          - { name: tag_${i}, area: holding, address: ${p === 7 && i === 13 ? addr : i * 2}, type: int16 }`,
          ),
        ].join('\n'),
      ).join('\n') +
      '\n';
    mkdirSync(t('m1'));
    mkdirSync(t('m2'));
    writeFileSync(t('m1/plcs.yaml'), map(26));
    writeFileSync(t('m2/plcs.yaml'), map(400));
    const mopts = k.opts({ name: 'plant-map', version: '1.0.1', counter: 2, target: 'plc-map' });
    const mfull = await packFull(t('m2'), mopts, t('mfull.bundle'));
    const mdelta = await packDelta(
      t('m1'),
      t('m2'),
      { ...mopts, baseVersion: '1.0.0' },
      t('mdelta.bundle'),
    );
    const xdMap = xdelta(t('m1/plcs.yaml'), t('m2/plcs.yaml'), t('map.xd3'));
    await packFull(t('m1'), { ...mopts, version: '1.0.0', counter: 1 }, t('mfull-v1.bundle'));
    const xdMapBundles = xdelta(t('mfull-v1.bundle'), t('mfull.bundle'), t('map-bundles.xd3'));
    print(`plc map: ${statSync(t('m2/plcs.yaml')).size} B YAML, one tag address changed`);
    print(
      `  full bundle ${mfull.bytes} B | delta bundle ${mdelta.bytes} B | baseline xdelta3: file ${xdMap} B, full bundle → full bundle ${xdMapBundles} B | delta / xdelta3(file) = ${(mdelta.bytes / xdMap).toFixed(2)}, / xdelta3(bundles) = ${(mdelta.bytes / xdMapBundles).toFixed(2)}`,
    );

    // 3. Apply + switch + rollback with the real launcher and tiny agents.
    const factory = writeAgent(t('factory'), '1.0.0', 'healthy');
    const good = writeAgent(t('good'), '2.0.0', 'healthy', { 'lib/a.js': src });
    const goodB = writeAgent(t('good-b'), '2.0.1', 'healthy', {
      'lib/a.js': src.replace('= 28;', '= 30;'),
    });
    const crash = writeAgent(t('crash'), '3.0.0', 'crash');
    await packFull(good, k.opts({ version: '2.0.0', counter: 2 }), t('good.bundle'));
    await packDelta(
      good,
      goodB,
      { ...k.opts({ version: '2.0.1', counter: 3 }), baseVersion: '2.0.0' },
      t('good-b.bundle'),
    );
    await packFull(crash, k.opts({ version: '3.0.0', counter: 4 }), t('crash.bundle'));
    const dataDir = t('device');
    const OTA = {
      minHealthySeconds: 1,
      probationGraceSeconds: 4,
      crashLoop: { exits: 3, windowSeconds: 10 },
    };
    writeConfig(dataDir, k, OTA);
    const agent = agentFor(dataDir, factory, otaConfig(k, OTA));
    const l = startLauncher(dataDir, factory, { LOG_LEVEL: 'warn' });
    const out = () => l.output();
    try {
      await l.waitFor(/test-agent 1\.0\.0 healthy started slot=factory/, 30_000);
      await agent.install({ file: t('good.bundle') });
      await until(() => state(dataDir).phase === 'Committed');
      let a0 = Date.now();
      const st = await agent.install({ file: t('good-b.bundle') });
      const apply = Date.now() - a0;
      if (st.phase !== 'Switching')
        throw new Error(`bench: delta install ended in ${st.phase}: ${st.error?.message}`);
      a0 = Date.now();
      const switched =
        (await until(() => /test-agent 2\.0\.1 healthy started slot=b/.test(out()))) - a0;
      await until(() => state(dataDir).phase === 'Committed');
      await agent.install({ file: t('crash.bundle') });
      await until(() => (out().match(/test-agent 3\.0\.0 crash started/g) ?? []).length >= 3);
      const loopAt = Date.now();
      const before = (out().match(/test-agent 2\.0\.1 healthy started/g) ?? []).length;
      const rolledBack =
        (await until(
          () => (out().match(/test-agent 2\.0\.1 healthy started/g) ?? []).length > before,
        )) - loopAt;
      const s = state(dataDir);
      print(
        `apply (verify + install delta into slot b) ${apply} ms | switch (Switching → new agent running) ${switched} ms | rollback (crash loop → previous slot running) ${rolledBack} ms; ends ${s.phase}/${s.active}`,
      );
      const n0 = Date.now();
      spawnSync(process.execPath, ['--import', 'tsx', '-e', '0'], { cwd: ROOT });
      const nodeStart = Date.now() - n0;
      print(
        `  baseline: bare node start (with tsx, like the launcher's child) ${nodeStart} ms; targets: switch ≤ 5000 ms, rollback ≤ 5000 ms, delta ≤ 2 × xdelta3`,
      );
      return {
        agentFullBytes: full.bytes,
        agentDeltaBytes: delta.bytes,
        agentXdeltaTreeBytes: xdTree,
        agentXdeltaFileBytes: xdFile,
        agentXdeltaBundlesBytes: xdBundles,
        agentSignedFloorBytes: floor,
        agentDeltaRatio: +(delta.bytes / xdTree).toFixed(2),
        agentDeltaVsBundlesRatio: +(delta.bytes / xdBundles).toFixed(2),
        mapFullBytes: mfull.bytes,
        mapDeltaBytes: mdelta.bytes,
        mapXdeltaBytes: xdMap,
        mapXdeltaBundlesBytes: xdMapBundles,
        mapDeltaRatio: +(mdelta.bytes / xdMap).toFixed(2),
        mapDeltaVsBundlesRatio: +(mdelta.bytes / xdMapBundles).toFixed(2),
        applyMs: apply,
        switchMs: switched,
        rollbackMs: rolledBack,
        nodeStartMs: nodeStart,
      };
    } finally {
      await l.stop();
    }
  } finally {
    tmp.cleanup();
  }
}
