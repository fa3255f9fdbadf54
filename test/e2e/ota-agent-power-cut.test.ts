// kill -9 of the image's launcher in every phase of an agent deployment, with the real agent, a real
// mosquitto and the simulator: after each restart the state is consistent (working phases →
// Failed/interrupted with the slot untouched; Switching → the switch is completed; Probation →
// probation again; RollingBack → the rollback is finished, with its alert) and the next offer is taken.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packFull } from '../../ota/bundle/pack.js';
import { agentBuild, crashingBuild } from './ota-image.js';
import { otaRig } from './ota-rig.js';

const rig = otaRig({ tmpPrefix: 'e2e-otacut-', kid: 'release-1' });
const { bundles, dataDir } = rig;

type State = {
  phase: string;
  active: string;
  slots: Record<string, { version: string } | null>;
  error?: { reason: string };
  history: Array<{ from: string; to: string; reason?: string }>;
};

async function bundle(dir: string, version: string, counter: number): Promise<string> {
  const o = rig.opts({ version, counter, url: rig.http.url(`${version}.bundle`) });
  return (await packFull(dir, o, join(bundles, `${version}.bundle`))).jws;
}

const stateFile = () =>
  JSON.parse(readFileSync(join(dataDir, 'ota', 'state.json'), 'utf8')) as State;

test(
  'kill -9 of the launcher in every phase of an agent deployment: a consistent phase, the next offer is taken',
  { timeout: 600_000 },
  async (t) => {
    const b2 = await bundle(agentBuild(rig.image, join(rig.dir, 'b2'), '0.2.0'), '0.2.0', 2);
    let prev: string | undefined;
    for (const phase of ['Downloading', 'Verifying', 'Installing', 'Switching']) {
      const g = await rig.restart({ WMS_GATEWAY_OTA_HOLD: phase });
      const s = await rig.watch.until('ota/state after the restart', () =>
        rig.stateSince<State>(g.startedAt),
      );
      if (prev) {
        assert.equal(s.phase, 'Failed', prev);
        assert.equal(s.error?.reason, 'interrupted', prev);
        assert.equal(s.active, 'factory', `${prev}: the running slot was not touched`);
        assert.equal(s.history.at(-1)?.from, prev);
        t.diagnostic(`kill -9 in ${prev}: Failed (interrupted), factory slot running`);
      }
      await rig.watch.until('0.1.0 online', () => rig.onlineSince(g.startedAt, '0.1.0'));
      await rig.watch.offer(b2);
      await g.waitOutput(new RegExp(`holding in ${phase}`));
      prev = phase;
    }
    // Killed in Switching: the restarted launcher completes the switch (and here holds in Probation
    // before starting the agent: a kill -9 there too).
    let g = await rig.restart({ WMS_GATEWAY_OTA_HOLD: 'Probation' });
    await g.waitOutput(/holding in Probation/);
    const p = stateFile();
    assert.equal(p.phase, 'Probation');
    assert.equal(p.active, 'a');
    t.diagnostic('kill -9 in Switching: switch completed, slot a on probation');
    // Killed in Probation: probation starts again and the slot is committed.
    g = await rig.restart({ WMS_GATEWAY_OTA_HOLD: 'RollingBack' });
    await rig.watch.until('0.2.0 committed after kill -9 in Probation', () => {
      const s = rig.stateSince<State>(g.startedAt);
      return s?.phase === 'Committed' && s.active === 'a';
    });
    await rig.watch.until('0.2.0 online', () => rig.onlineSince(g.startedAt, '0.2.0'));
    // Killed in RollingBack (a crashing build): the restarted launcher finishes the rollback.
    await rig.watch.offer(await bundle(crashingBuild(join(rig.dir, 'b3'), '0.3.0'), '0.3.0', 3));
    await g.waitOutput(/holding in RollingBack/);
    assert.equal(stateFile().phase, 'RollingBack');
    g = await rig.restart();
    const s = await rig.watch.until('rolled back after kill -9 in RollingBack', () => {
      const x = rig.stateSince<State>(g.startedAt);
      return x?.phase === 'Failed' && x;
    });
    assert.equal(s.error?.reason, 'crash-loop');
    assert.equal(s.active, 'a');
    await rig.watch.until('0.2.0 online again', () => rig.onlineSince(g.startedAt, '0.2.0'));
    await rig.watch.until('an ota.rolled-back alert', () =>
      rig.watch.all('alerts').some((a) => a.at >= g.startedAt && a.msg.code === 'ota.rolled-back'),
    );
    // The next offer is taken.
    const offeredAt = Date.now();
    await rig.watch.offer(
      await bundle(agentBuild(rig.image, join(rig.dir, 'b4'), '0.4.0'), '0.4.0', 4),
    );
    await rig.watch.until('0.4.0 committed', () => {
      const x = rig.stateSince<State>(offeredAt);
      return x?.phase === 'Committed' && x.slots[x.active]?.version === '0.4.0';
    });
    await rig.watch.until('0.4.0 online', () => rig.onlineSince(offeredAt, '0.4.0'));
  },
);
