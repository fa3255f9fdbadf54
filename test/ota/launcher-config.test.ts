// The launcher reads the config in force: a remotely applied config ($DATA_DIR/config/applied.yaml,
// written by config/set) wins over the local file, as it does for the agent at start; an unusable one
// falls back to the file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { readOtaConfig } from '../../ota/config/schema.js';

const tmp = tmpDir('ota-launch-cfg-');
after(() => tmp.cleanup());

test('the launcher takes ota settings from the remotely applied config, else the file', () => {
  const dataDir = join(tmp.path, 'data');
  mkdirSync(join(dataDir, 'config'), { recursive: true });
  const file = join(tmp.path, 'gateway.yaml');
  writeFileSync(file, 'ota: { minHealthySeconds: 11 }\n');
  const env = {};
  assert.equal(readOtaConfig({ configPath: file, dataDir, env }).minHealthySeconds, 11);
  writeFileSync(join(dataDir, 'config', 'applied.yaml'), 'ota: { minHealthySeconds: 22 }\n');
  assert.equal(readOtaConfig({ configPath: file, dataDir, env }).minHealthySeconds, 22);
  writeFileSync(join(dataDir, 'config', 'applied.yaml'), 'ota: { minHealthySeconds: -1 }\n');
  assert.equal(readOtaConfig({ configPath: file, dataDir, env }).minHealthySeconds, 11);
});
