// The image's entry point: `node dist/ota/launcher/main.js run [--config F] [--data-dir D]`.
// Tiny on purpose (it is not updated by OTA): reads its settings, runs the supervisor, forwards signals.
// It reads only the `ota:` section of the config, and imports only ota/ and platform/ (npm run lint
// checks this closure: .dependency-cruiser.mjs).
import { resolveDataDir } from '../../platform/config-source.js';
import { createLogger } from '../../platform/logger.js';
import { otaSchema, readOtaConfig } from '../config/schema.js';
import { factoryDir } from '../device/paths.js';
import { DEFAULT_LAUNCHER, Launcher } from './supervisor.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
};
const logger = createLogger({ name: 'wms-gateway-launcher' });
const dataDir = resolveDataDir({ dataDir: opt('--data-dir') });
let ota = otaSchema.parse({});
try {
  ota = readOtaConfig({ configPath: opt('--config'), dataDir });
} catch (e) {
  // The agent reports a bad config itself; the launcher still has to run it.
  logger.warn({ err: (e as Error).message }, 'launcher: config unreadable, using OTA defaults');
}
const launcher = new Launcher({
  dataDir,
  factory: factoryDir(),
  args,
  env: process.env,
  logger,
  settings: {
    ...DEFAULT_LAUNCHER,
    crashLoopExits: ota.crashLoop.exits,
    crashLoopWindowMs: ota.crashLoop.windowSeconds * 1000,
    minHealthySeconds: ota.minHealthySeconds,
    probationGraceSeconds: ota.probationGraceSeconds,
  },
});
for (const sig of ['SIGTERM', 'SIGINT'] as const)
  process.on(sig, () => void launcher.shutdown(sig));
process.exit(await launcher.run());
