// OTA of the agent through the image's entry point (the launcher) with the real agent, a real
// mosquitto, the simulator and bundles over HTTP: a bundle offered on ota/offer is switched to,
// committed and online with its version; a bundle that crashes on start is rolled back with an alert
// and the old version back online; a delta for another base makes the device fetch the full bundle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { packDelta, packFull } from '../../ota/bundle/pack.js';
import { agentBuild, crashingBuild } from './ota-image.js';
import { otaRig } from './ota-rig.js';

const rig = otaRig({ tmpPrefix: 'e2e-ota-', kid: 'release-1', start: true });
const { bundles, opts } = rig;

type State = {
  phase: string;
  active: string;
  slots: Record<string, { version: string } | null>;
  error?: { reason: string };
  history: Array<{ to: string; reason?: string; message: string }>;
};
const otaState = () => rig.watch.last('ota/state') as State | undefined;

test(
  'an agent bundle offered on ota/offer is switched to, committed and online with its version',
  { timeout: 240_000 },
  async () => {
    await rig.watch.until('the image online with 0.1.0', () => rig.onlineSince(0, '0.1.0'));
    const built = agentBuild(rig.image, join(rig.dir, 'build-0.2.0'), '0.2.0');
    const r = await packFull(
      built,
      opts({ version: '0.2.0', counter: 2, url: rig.http.url('0.2.0.bundle') }),
      join(bundles, '0.2.0.bundle'),
    );
    const offeredAt = Date.now();
    await rig.watch.offer(r.jws);
    const s = await rig.watch.until('Committed', () => {
      const x = otaState();
      return x?.phase === 'Committed' && x.active === 'a' && x;
    });
    assert.equal(s.slots.a?.version, '0.2.0');
    assert.equal(s.slots.factory?.version, '0.1.0', 'the factory slot keeps the image version');
    await rig.watch.until('0.2.0 online', () => rig.onlineSince(offeredAt, '0.2.0'));
    assert.deepEqual(
      s.history.slice(-6).map((h) => h.to),
      ['Downloading', 'Verifying', 'Installing', 'Switching', 'Probation', 'Committed'],
    );
  },
);

test(
  'a bundle that crashes on start is rolled back, an alert goes out, the old version is back online',
  { timeout: 240_000 },
  async () => {
    const built = crashingBuild(join(rig.dir, 'build-0.3.0'), '0.3.0');
    const r = await packFull(
      built,
      opts({ version: '0.3.0', counter: 3, url: rig.http.url('0.3.0.bundle') }),
      join(bundles, '0.3.0.bundle'),
    );
    const offeredAt = Date.now();
    await rig.watch.offer(r.jws);
    const s = await rig.watch.until('rolled back', () => {
      const x = otaState();
      return x?.phase === 'Failed' && x.error?.reason === 'crash-loop' && x;
    });
    assert.equal(s.active, 'a', 'back on the slot that ran before');
    assert.deepEqual(
      s.history.slice(-2).map((h) => h.to),
      ['RollingBack', 'Failed'],
    );
    const alert = await rig.watch.until('an ota.rolled-back alert', () =>
      rig.watch.all('alerts').find((a) => a.at >= offeredAt && a.msg.code === 'ota.rolled-back'),
    );
    assert.equal(alert.msg.level, 'critical');
    assert.match(String(alert.msg.message), /0\.3\.0.*crash-loop/);
    await rig.watch.until('0.2.0 online again', () => rig.onlineSince(offeredAt, '0.2.0'));
  },
);

test(
  'a delta for another base: the full bundle named in the signed manifest is fetched and committed',
  { timeout: 240_000 },
  async () => {
    const other = agentBuild(rig.image, join(rig.dir, 'build-0.3.9'), '0.3.9'); // a base this device never had
    const next = agentBuild(rig.image, join(rig.dir, 'build-0.4.0'), '0.4.0');
    await packFull(
      next,
      opts({ version: '0.4.0', counter: 4 }),
      join(bundles, '0.4.0-full.bundle'),
    );
    const d = await packDelta(
      other,
      next,
      {
        ...opts({
          version: '0.4.0',
          counter: 4,
          url: rig.http.url('0.4.0-delta.bundle'),
          fullUrl: rig.http.url('0.4.0-full.bundle'),
        }),
        baseVersion: '0.3.9',
      },
      join(bundles, '0.4.0-delta.bundle'),
    );
    const offeredAt = Date.now();
    await rig.watch.offer(d.jws);
    const s = await rig.watch.until('Committed on 0.4.0', () => {
      const x = otaState();
      return x?.phase === 'Committed' && x.slots[x.active]?.version === '0.4.0' && x;
    });
    assert.equal(s.active, 'b');
    const refusal = s.history.find((h) => h.reason === 'base-mismatch');
    assert.ok(refusal, 'the refusal of the delta is kept in the history');
    assert.equal(refusal.to, 'Downloading');
    assert.match(refusal.message, /0\.4\.0-full\.bundle/);
    await rig.watch.until('0.4.0 online', () => rig.onlineSince(offeredAt, '0.4.0'));
  },
);
