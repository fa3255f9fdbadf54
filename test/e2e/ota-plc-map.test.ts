// PLC-map OTA through the image's entry point with the real agent, mosquitto and simulators: a map
// bundle is applied and committed, and after kill -9 of the launcher and a restart the gateway polls
// the new map (not the config's); kill -9 of the launcher in every phase of a map deployment leaves a
// consistent phase and the next offer is taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { packFull } from '../../ota/bundle/pack.js';
import { plc, runImageCli } from './ota-image.js';
import { otaRig } from './ota-rig.js';

const rig = otaRig({ tmpPrefix: 'e2e-map-', kid: 'maps-1', sims: 2 });
const { bundles, dataDir } = rig;

type State = {
  phase: string;
  plcMap?: { version: string };
  error?: { reason: string };
  history: Array<{ from: string; to: string; reason?: string }>;
};

/** A signed map bundle whose one PLC (id `plcId`) is the second simulator. */
async function mapBundle(version: string, counter: number, plcId: string): Promise<string> {
  const dir = join(rig.dir, `map-${version}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'plcs.yaml'), stringify({ plcs: [plc(plcId, rig.sims[1]!.port)] }));
  const r = await packFull(
    dir,
    rig.opts({
      name: 'plant-map',
      version,
      counter,
      target: 'plc-map',
      url: rig.http.url(`map-${version}.bundle`),
    }),
    join(bundles, `map-${version}.bundle`),
  );
  return r.jws;
}

const dataSince = (t: number, plcId: string) =>
  rig.watch.all(`plc/${plcId}/data`).some((m) => m.at >= t);

test(
  'a PLC-map bundle is applied, committed, and still in force after kill -9 of the launcher and a restart',
  { timeout: 240_000 },
  async () => {
    const g = await rig.restart();
    await rig.watch.until('the config map polled', () => dataSince(g.startedAt, 'plc-0'));
    const offeredAt = Date.now();
    await rig.watch.offer(await mapBundle('1.0.0', 1, 'line-1'));
    await rig.watch.until('map 1.0.0 committed', () => {
      const s = rig.stateSince<State>(offeredAt);
      return s?.phase === 'Committed' && s.plcMap?.version === '1.0.0';
    });
    await rig.watch.until('the new map polled', () => dataSince(offeredAt, 'line-1'));

    const again = await rig.restart();
    await rig.watch.until('the committed map polled after the restart', () =>
      dataSince(again.startedAt, 'line-1'),
    );
    const s = await rig.watch.until('ota/state after the restart', () =>
      rig.stateSince<State>(again.startedAt),
    );
    assert.equal(s.phase, 'Committed');
    assert.equal(s.plcMap?.version, '1.0.0');
    const settled = Date.now() + 1500; // polls of the old map that were in flight at start are over
    await rig.watch.until('a second of polling', () => Date.now() > settled + 1000);
    assert.ok(!dataSince(settled, 'plc-0'), 'the config map is not polled any more');
  },
);

test(
  'kill -9 of the launcher in every phase of a map deployment: a consistent phase, the next offer is taken',
  { timeout: 600_000 },
  async (t) => {
    // Working phases: interrupted, nothing switched, the same offer is taken again.
    const m2 = await mapBundle('1.1.0', 2, 'line-2');
    let prev: string | undefined;
    for (const phase of ['Downloading', 'Verifying', 'Installing', 'Switching']) {
      const g = await rig.restart({ WMS_GATEWAY_OTA_HOLD: phase });
      const s = await rig.watch.until('ota/state after the restart', () =>
        rig.stateSince<State>(g.startedAt),
      );
      if (prev) {
        assert.equal(s.phase, 'Failed', prev);
        assert.equal(s.error?.reason, 'interrupted', prev);
        assert.equal(s.plcMap?.version, '1.0.0', `${prev}: the committed map stays`);
        assert.equal(s.history.at(-1)?.from, prev);
        t.diagnostic(`kill -9 in ${prev}: Failed (interrupted), map 1.0.0 in force`);
      }
      await rig.watch.offer(m2);
      await g.waitOutput(new RegExp(`holding in ${phase}`));
      prev = phase;
    }
    // Killed in Switching: the restarted agent puts the candidate in force and commits it.
    let g = await rig.restart({ WMS_GATEWAY_OTA_HOLD: 'Probation' });
    await rig.watch.until('map 1.1.0 committed after kill -9 in Switching', () => {
      const s = rig.stateSince<State>(g.startedAt);
      return s?.phase === 'Committed' && s.plcMap?.version === '1.1.0';
    });
    await rig.watch.until('map 1.1.0 polled', () => dataSince(g.startedAt, 'line-2'));
    // Killed in Probation: probation starts again with the candidate, then it is committed.
    await rig.watch.offer(await mapBundle('1.2.0', 3, 'line-3'));
    await g.waitOutput(/holding in Probation/);
    g = await rig.restart({ WMS_GATEWAY_OTA_HOLD: 'RollingBack' });
    await rig.watch.until('map 1.2.0 committed after kill -9 in Probation', () => {
      const s = rig.stateSince<State>(g.startedAt);
      return s?.phase === 'Committed' && s.plcMap?.version === '1.2.0';
    });
    await rig.watch.until('map 1.2.0 polled', () => dataSince(g.startedAt, 'line-3'));
    // `ota rollback` in a map deployment rolls the map back; killed in RollingBack, it is finished.
    const rb = await runImageCli(rig.image, ['ota', 'rollback', '--data-dir', dataDir]);
    assert.equal(rb.code, 0, rb.stderr);
    assert.match(rb.stdout, /PLC map/);
    await g.waitOutput(/holding in RollingBack/);
    g = await rig.restart();
    const s = await rig.watch.until('rolled back to map 1.1.0', () => {
      const x = rig.stateSince<State>(g.startedAt);
      return x?.phase === 'Failed' && x;
    });
    assert.equal(s.error?.reason, 'manual');
    assert.equal(
      s.plcMap?.version,
      '1.1.0',
      'the map before the rolled-back one is committed again',
    );
    await rig.watch.until('map 1.1.0 polled again', () => dataSince(g.startedAt, 'line-2'));
    await rig.watch.until('an ota.rolled-back alert', () =>
      rig.watch.all('alerts').some((a) => a.at >= g.startedAt && a.msg.code === 'ota.rolled-back'),
    );
    // And the next offer is taken.
    const offeredAt = Date.now();
    await rig.watch.offer(await mapBundle('1.3.0', 4, 'line-4'));
    await rig.watch.until('map 1.3.0 committed', () => {
      const x = rig.stateSince<State>(offeredAt);
      return x?.phase === 'Committed' && x.plcMap?.version === '1.3.0';
    });
    await rig.watch.until('map 1.3.0 polled', () => dataSince(offeredAt, 'line-4'));
  },
);
