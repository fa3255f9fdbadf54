// Is this (verified) manifest for this gateway? Anti-rollback counter, requires, device type, rollout.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import semver from 'semver';
import { OtaRefusal } from '../errors.js';
import type { Manifest } from '../bundle/manifest.js';
import { writeFileAtomicSync, WORLD_READABLE } from '../../platform/atomic-file.js';
import type { OtaPaths } from './paths.js';

export interface DeviceFacts {
  gatewayId: string;
  imageVersion: string;
  deviceType?: string | undefined;
  ring?: string | undefined;
}

/** Stable bucket 0 ≤ b < 100 of a gateway for a bundle name: the same gateways stay in as percentage grows. */
export function rolloutBucket(gatewayId: string, bundleName: string): number {
  const h = createHash('sha256').update(`${bundleName}\n${gatewayId}`).digest();
  return (h.readUInt32BE(0) / 2 ** 32) * 100;
}

export function readCounter(paths: OtaPaths, target: Manifest['target']): number {
  const file = paths.counter(target);
  if (!existsSync(file)) return 0;
  const n = Number(readFileSync(file, 'utf8').trim());
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/** Raise the anti-rollback counter (never lowers it). */
export function raiseCounter(paths: OtaPaths, target: Manifest['target'], counter: number): void {
  if (counter > readCounter(paths, target))
    writeFileAtomicSync(paths.counter(target), `${counter}\n`, WORLD_READABLE);
}

export function checkPolicy(m: Manifest, facts: DeviceFacts, installedCounter: number): void {
  const what = `${m.name} ${m.version}`;
  if (m.counter <= installedCounter)
    throw new OtaRefusal(
      'counter-not-above',
      `${what}: release counter ${m.counter} is not above the installed ${installedCounter}`,
    );
  if (
    m.requires.image &&
    !semver.satisfies(facts.imageVersion, m.requires.image, { includePrerelease: true })
  )
    throw new OtaRefusal(
      'incompatible-requires',
      `${what} requires image ${m.requires.image}; this image is ${facts.imageVersion}`,
    );
  if (
    m.requires.deviceTypes &&
    !(facts.deviceType && m.requires.deviceTypes.includes(facts.deviceType))
  )
    throw new OtaRefusal(
      'wrong-device-type',
      `${what} is for device types ${m.requires.deviceTypes.join(', ')}; this one is ${facts.deviceType ?? 'unknown'}`,
    );
  const r = m.rollout;
  if (r?.ring && !(facts.ring && r.ring.includes(facts.ring)))
    throw new OtaRefusal(
      'not-targeted',
      `${what} targets rings ${r.ring.join(', ')}; this gateway is in ${facts.ring ?? 'no ring'}`,
    );
  if (r?.percentage !== undefined) {
    const b = rolloutBucket(facts.gatewayId, m.name);
    if (b >= r.percentage)
      throw new OtaRefusal(
        'not-targeted',
        `${what} targets ${r.percentage}% of gateways; this one is in bucket ${b.toFixed(2)}`,
      );
  }
}
