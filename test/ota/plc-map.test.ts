// PLC register maps as bundles of their own: applied through the same states inside the agent,
// committed when the PLC links stay as good as before, rolled back (previous map re-applied) when not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import type { PlcConfig } from '../../plc/config/schema.js';
import {
  agentFor,
  craftBundle,
  fullEntry,
  kit,
  otaConfig,
  packDelta,
  packFull,
  state,
  writeAgent,
  type Kit,
} from './ota-fixtures.js';
import { MANIFEST_FORMAT } from '../../ota/bundle/manifest.js';
import { treeSha256 } from '../../ota/bundle/tree.js';

let k: Kit;
const tmp = tmpDir('ota-map-');
after(() => tmp.cleanup());
const factory = writeAgent(join(tmp.path, 'factory'), '1.0.0', 'healthy');
let n = 0;

const mapYaml = (port: number, address = 0) => `plcs:
  - id: conveyor-1
    transport: { type: tcp, host: 127.0.0.1, port: ${port} }
    groups:
      - intervalMs: 100
        tags:
          - { name: speed, area: holding, address: ${address}, type: int16 }
`;

function mapDir(name: string, text: string): string {
  const dir = join(tmp.path, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'plcs.yaml'), text);
  return dir;
}

before(async () => {
  k = await kit();
});

/** A gateway whose PLC link is up only while the applied map points at port 5020. */
function gateway() {
  const dataDir = join(tmp.path, `dev-${++n}`);
  mkdirSync(dataDir, { recursive: true });
  let current: PlcConfig[] = [];
  const applied: PlcConfig[][] = [];
  const health = () => {
    const t = current[0]?.transport;
    return {
      plcsOk: t && t.type === 'tcp' && t.port === 5020 ? 1 : 0,
      plcsTotal: current.length,
      wmsConnected: true,
    };
  };
  const agent = agentFor(
    dataDir,
    factory,
    otaConfig(k, { minHealthySeconds: 1, probationGraceSeconds: 1 }),
    {
      health,
      applyPlcMap: async (plcs) => {
        applied.push(plcs);
        current = plcs;
      },
      currentPlcMap: () => current,
    },
  );
  return { dataDir, agent, applied, setCurrent: (p: PlcConfig[]) => (current = p) };
}

test(
  'a good map is applied, passes probation and is committed; a delta map follows',
  { timeout: 30_000 },
  async () => {
    const g = gateway();
    const full = join(tmp.path, 'map1.bundle');
    await packFull(
      mapDir('m1', mapYaml(5020)),
      k.opts({ name: 'plant-map', version: '1.0.0', counter: 1, target: 'plc-map' }),
      full,
    );
    const st = await g.agent.install({ file: full });
    assert.equal(st.phase, 'Committed', JSON.stringify(st.error));
    assert.equal(st.plcMap?.version, '1.0.0');
    assert.equal(g.applied.length, 1);
    assert.deepEqual(
      state(g.dataDir).history.map((h) => h.to),
      ['Verifying', 'Installing', 'Switching', 'Probation', 'Committed'],
    );
    assert.equal(st.active, 'factory', 'a map does not change the agent slot');

    const delta = join(tmp.path, 'map2.bundle');
    await packDelta(
      mapDir('m1b', mapYaml(5020)),
      mapDir('m2', mapYaml(5020, 7)),
      {
        ...k.opts({ name: 'plant-map', version: '1.1.0', counter: 2, target: 'plc-map' }),
        baseVersion: '1.0.0',
      },
      delta,
    );
    const st2 = await g.agent.install({ file: delta });
    assert.equal(st2.phase, 'Committed', JSON.stringify(st2.error));
    assert.equal(g.applied.at(-1)?.[0]?.groups[0]?.tags[0]?.address, 7);
  },
);

test(
  'a map that takes the PLC link down is rolled back to the previous map',
  { timeout: 30_000 },
  async () => {
    const g = gateway();
    const good = (await import('../../ota/plc-map/plc-map.js')).parsePlcMap(mapYaml(5020), 'good');
    g.setCurrent(good);
    const bad = join(tmp.path, 'bad-map.bundle');
    await packFull(
      mapDir('bad', mapYaml(5999)),
      k.opts({ name: 'plant-map', version: '2.0.0', counter: 3, target: 'plc-map' }),
      bad,
    );
    const st = await g.agent.install({ file: bad });
    assert.equal(st.phase, 'Failed');
    assert.equal(st.error?.reason, 'unhealthy');
    assert.deepEqual(g.applied.at(-1), good, 'previous map re-applied');
    assert.deepEqual(
      state(g.dataDir)
        .history.slice(-3)
        .map((h) => h.to),
      ['Probation', 'RollingBack', 'Failed'],
    );
  },
);

test(
  'a signed map that does not validate is refused naming the field',
  { timeout: 30_000 },
  async () => {
    const g = gateway();
    const f = fullEntry(
      'plcs.yaml',
      Buffer.from(mapYaml(5020).replace('intervalMs: 100', 'intervalMs: 1')),
    );
    const now = Math.floor(Date.now() / 1000);
    const file = join(tmp.path, 'invalid-map.bundle');
    await craftBundle(
      file,
      {
        format: MANIFEST_FORMAT,
        name: 'plant-map',
        version: '1.0.0',
        counter: 1,
        kind: 'full',
        target: 'plc-map',
        treeSha256: treeSha256([f.file]),
        files: [f.file],
        removed: [],
        payload: [f.payload],
        requires: {},
        iat: now - 10,
        exp: now + 3600,
      },
      k.keys.privateJwk,
      [f.entry],
    );
    const st = await g.agent.install({ file });
    assert.equal(st.phase, 'Failed');
    assert.equal(st.error?.reason, 'bad-manifest');
    assert.match(st.error!.message, /plcs\.0\.groups\.0\.intervalMs/);
    assert.equal(g.applied.length, 0);
  },
);

test(
  'a map that removes a PLC is judged in probation on the PLCs it keeps',
  { timeout: 30_000 },
  async () => {
    const dataDir = join(tmp.path, `dev-${++n}`);
    mkdirSync(dataDir, { recursive: true });
    const two = `plcs:
  - id: conveyor-1
    transport: { type: tcp, host: 127.0.0.1, port: 5020 }
    groups: [{ intervalMs: 100, tags: [{ name: speed, area: holding, address: 0, type: int16 }] }]
  - id: conveyor-2
    transport: { type: tcp, host: 127.0.0.1, port: 5020 }
    groups: [{ intervalMs: 100, tags: [{ name: speed, area: holding, address: 0, type: int16 }] }]
`;
    const { parsePlcMap } = await import('../../ota/plc-map/plc-map.js');
    let current: PlcConfig[] = parsePlcMap(two, 'two');
    // Every PLC of the running map is up: the gateway is as healthy after as before on what it keeps.
    const up = (p: PlcConfig) => p.transport.type === 'tcp' && p.transport.port === 5020;
    const agent = agentFor(
      dataDir,
      factory,
      otaConfig(k, { minHealthySeconds: 1, probationGraceSeconds: 1 }),
      {
        health: () => ({
          plcsOk: current.filter(up).length,
          plcsTotal: current.length,
          wmsConnected: true,
        }),
        healthOf: (ids) => ({
          plcsOk: current.filter((p) => ids.includes(p.id) && up(p)).length,
          plcsTotal: ids.length,
          wmsConnected: true,
        }),
        applyPlcMap: async (plcs) => {
          current = plcs;
        },
        currentPlcMap: () => current,
      },
    );
    const file = join(tmp.path, 'map-minus-one.bundle');
    await packFull(
      mapDir('minus-one', mapYaml(5020)),
      k.opts({ name: 'plant-map', version: '3.0.0', counter: 1, target: 'plc-map' }),
      file,
    );
    const st = await agent.install({ file });
    assert.equal(st.phase, 'Committed', JSON.stringify(st.error));
    assert.deepEqual(
      current.map((p) => p.id),
      ['conveyor-1'],
    );
  },
);
