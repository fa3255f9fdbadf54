// The set-up every OTA test through the image shares: the built image, a signing key, a real mosquitto,
// simulators, bundles served over HTTP, a WMS-side watcher, and the launcher started on a config in a
// temp dir; registered as the file's before/after hooks, so a test file names only what differs.
import { after, before } from 'node:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startSimulator, type Simulator } from '../../plc/simulator/simulator.js';
import { generateSigningKey, type KeyPair } from '../../ota/bundle/signing.js';
import type { PackOptions } from '../../ota/bundle/pack.js';
import {
  buildImage,
  packOptions,
  serveDir,
  startGateway,
  watchGateway,
  writeGatewayConfig,
  type Gateway,
  type Watch,
} from './ota-image.js';

export interface OtaRig {
  /** Set once the before hook ran. */
  image: string;
  keys: KeyPair;
  broker: Broker;
  sims: Simulator[];
  http: Awaited<ReturnType<typeof serveDir>>;
  watch: Watch;
  /** The launcher running now, if any. */
  gw: Gateway | undefined;
  readonly dir: string;
  readonly bundles: string;
  readonly dataDir: string;
  readonly config: string;
  /** Pack options signed with the rig's key. */
  opts(o: Partial<PackOptions> & { version: string; counter: number }): PackOptions;
  /** kill -9 the launcher (if any) and start it again on the same config and data dir. */
  restart(env?: NodeJS.ProcessEnv): Promise<Gateway>;
  /** The newest ota/state published at or after `t` (ms). */
  stateSince<T>(t: number): T | undefined;
  /** Whether `status` said online with this version at or after `t`. */
  onlineSince(t: number, version: string): boolean;
}

export function otaRig(o: {
  tmpPrefix: string;
  kid: string;
  sims?: number;
  /** Writes rig.config (default: writeGatewayConfig with the first simulator and the rig's key). */
  writeConfig?: (rig: OtaRig) => void;
  /** Start the launcher in the before hook. */
  start?: boolean;
}): OtaRig {
  const tmp = tmpDir(o.tmpPrefix);
  const rig = {
    gw: undefined,
    dir: tmp.path,
    bundles: join(tmp.path, 'bundles'),
    dataDir: join(tmp.path, 'data'),
    config: join(tmp.path, 'gateway.yaml'),
    opts: (p) => packOptions(rig.keys.privateJwk, p),
    async restart(env = {}) {
      await rig.gw?.kill9();
      rig.gw = startGateway(rig.image, rig.config, rig.dataDir, env);
      return rig.gw;
    },
    stateSince: <T>(t: number) =>
      rig.watch
        .all('ota/state')
        .filter((m) => m.at >= t)
        .at(-1)?.msg as T | undefined,
    onlineSince: (t, version) =>
      rig.watch
        .all('status')
        .some((m) => m.at >= t && m.msg.state === 'online' && m.msg.version === version),
  } as OtaRig;

  before(
    async () => {
      mkdirSync(rig.bundles, { recursive: true });
      [rig.image, rig.keys, rig.broker, rig.sims, rig.http] = await Promise.all([
        buildImage(),
        generateSigningKey('EdDSA', o.kid),
        startMosquitto(),
        Promise.all(Array.from({ length: o.sims ?? 1 }, () => startSimulator({ port: 0 }))),
        serveDir(rig.bundles),
      ]);
      rig.watch = await watchGateway(rig.broker.url);
      if (o.writeConfig) o.writeConfig(rig);
      else
        writeGatewayConfig(rig.config, {
          broker: rig.broker.url,
          plcPort: rig.sims[0]!.port,
          otaKey: rig.keys.publicJwk,
        });
      if (o.start) rig.gw = startGateway(rig.image, rig.config, rig.dataDir);
    },
    { timeout: 900_000 },
  );

  after(async () => {
    await rig.gw?.stop();
    await rig.watch?.close();
    await rig.http?.close();
    for (const s of rig.sims ?? []) await s.close();
    await rig.broker?.stop();
    tmp.cleanup();
  });
  return rig;
}
