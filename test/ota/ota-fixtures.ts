// Shared set-up of the OTA tests: keys, tiny real agent programs, bundles, hostile tars, a device dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Header } from 'tar';
import { gzipSync } from 'node:zlib';
import { createLogger } from '../../platform/logger.js';
import { otaSchema } from '../../ota/config/schema.js';
import { ROOT } from '../helpers/cli.js';
import {
  detachSignature,
  generateSigningKey,
  signManifest,
  type KeyPair,
} from '../../ota/bundle/signing.js';
import { packFull, packDelta, type PackOptions } from '../../ota/bundle/pack.js';
import type { Manifest } from '../../ota/bundle/manifest.js';
import { sha256 } from '../../ota/bundle/tree.js';
import { OtaAgent, type OtaAgentOptions } from '../../ota/agent/ota-agent.js';
import { loadState } from '../../ota/device/state-store.js';
import { otaPaths } from '../../ota/device/paths.js';

export const logger = createLogger({ level: 'silent' });
export type Mode = 'healthy' | 'crash' | 'plc-down';

/** A tiny real agent: reports health to the launcher over IPC like the real one, or crashes on start. */
export function writeAgent(
  dir: string,
  version: string,
  mode: Mode,
  extra: Record<string, string> = {},
): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(
    join(dir, 'bin', 'wms-gateway.js'),
    `#!/usr/bin/env node
const VERSION = ${JSON.stringify(version)}, MODE = ${JSON.stringify(mode)};
process.stdout.write('test-agent ' + VERSION + ' ' + MODE + ' started slot=' + process.env.WMS_GATEWAY_SLOT + '\\n');
if (MODE === 'crash') process.exit(3);
const h = { type: 'wms-gateway:health', plcsOk: MODE === 'plc-down' ? 0 : 1, plcsTotal: 1, wmsConnected: true };
const send = () => process.connected && process.send(h);
send();
setInterval(send, 200);
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
`,
  );
  chmodSync(join(dir, 'bin', 'wms-gateway.js'), 0o755);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'wms-gateway', version }) + '\n');
  for (const [p, text] of Object.entries(extra)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

export interface Kit {
  keys: KeyPair;
  other: KeyPair;
  opts: (o: Partial<PackOptions>) => PackOptions;
}

export async function kit(): Promise<Kit> {
  const keys = await generateSigningKey('EdDSA', 'k1');
  const other = await generateSigningKey('EdDSA', 'k1'); // same kid, different key: a forged signature
  const now = Math.floor(Date.now() / 1000);
  return {
    keys,
    other,
    opts: (o) => ({
      name: 'wms-gateway',
      version: '2.0.0',
      counter: 2,
      target: 'agent',
      privateJwk: keys.privateJwk,
      iat: now - 60,
      exp: now + 3600,
      ...o,
    }),
  };
}

export { packFull, packDelta };

/** Sign an arbitrary (possibly lying) manifest and put it in a bundle with the given raw entries. */
export async function craftBundle(
  file: string,
  manifest: Manifest,
  privateJwk: KeyPair['privateJwk'],
  entries: TarEntry[],
): Promise<void> {
  const { json, sig } = detachSignature(await signManifest(manifest, privateJwk));
  writeTar(file, [
    { path: 'manifest.json', data: json },
    { path: 'manifest.sig', data: Buffer.from(sig) },
    ...entries,
  ]);
}

export interface TarEntry {
  path: string;
  data?: Buffer;
  type?: 'File' | 'SymbolicLink' | 'Link' | 'Directory';
  linkpath?: string;
}

/** A tar written header by header: lets a test put in what our packer never would. */
export function writeTar(file: string, entries: TarEntry[]): void {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const h = new Header({
      path: e.path,
      mode: 0o644,
      size: e.type && e.type !== 'File' ? 0 : data.length,
      type: e.type ?? 'File',
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block);
    if (!e.type || e.type === 'File')
      blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  writeFileSync(file, Buffer.concat(blocks));
}

export function fullEntry(
  path: string,
  content: Buffer,
): { file: Manifest['files'][number]; entry: TarEntry; payload: Manifest['payload'][number] } {
  const gz = gzipSync(content);
  return {
    file: { path, size: content.length, mode: 0o644, sha256: sha256(content) },
    entry: { path: `full/${path}.gz`, data: gz },
    payload: { path: `full/${path}.gz`, size: gz.length, sha256: sha256(gz) },
  };
}

export function otaConfig(
  k: Kit,
  over: Partial<OtaAgentOptions['config']> = {},
): OtaAgentOptions['config'] {
  return {
    ...otaSchema.parse({
      keys: [k.keys.publicJwk],
      minHealthySeconds: 1,
      probationGraceSeconds: 2,
    }),
    ...over,
  };
}

export function agentFor(
  dataDir: string,
  factoryDir: string,
  config: OtaAgentOptions['config'],
  over: Partial<OtaAgentOptions> = {},
): OtaAgent {
  return new OtaAgent({
    dataDir,
    factoryDir,
    config,
    gatewayId: 'gw-test-1',
    logger,
    publishState: () => {},
    health: () => ({ plcsOk: 1, plcsTotal: 1, wmsConnected: true }),
    ...over,
  });
}

export function state(dataDir: string) {
  return loadState(otaPaths(dataDir));
}

/** The gateway config file of a test device (JSON is YAML). */
export function writeConfig(dataDir: string, k: Kit, ota: Record<string, unknown> = {}): string {
  const file = join(dataDir, 'gateway.yaml');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(
    file,
    JSON.stringify(
      { gateway: { id: 'gw-test-1' }, ota: { keys: [k.keys.publicJwk], ...ota } },
      null,
      1,
    ),
  );
  return file;
}

export interface LauncherProc {
  proc: ChildProcess;
  output: () => string;
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<void>;
  /** A power cut: SIGKILL to the launcher and its agent at once (own process group). */
  powerCut: () => Promise<void>;
  stop: () => Promise<void>;
}

/** Preloaded into the processes of power-cut tests: honours WMS_GATEWAY_OTA_HOLD (tests only). */
export const HOLD_PHASE_PRELOAD = join(ROOT, 'test', 'ota', 'fixtures', 'hold-phase.ts');

/** The real launcher (ota/launcher/main.ts) in its own process group, factory = `factory`. */
export function startLauncher(
  dataDir: string,
  factory: string,
  env: NodeJS.ProcessEnv = {},
): LauncherProc {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      ...(env.WMS_GATEWAY_OTA_HOLD ? ['--import', pathToFileURL(HOLD_PHASE_PRELOAD).href] : []),
      join(ROOT, 'ota', 'launcher', 'main.ts'),
      'run',
      '--data-dir',
      dataDir,
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_JSON: '1', LOG_LEVEL: 'info', OTA_FACTORY_DIR: factory, ...env },
    },
  );
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      /* already gone */
    }
  };
  process.once('exit', () => killGroup('SIGKILL'));
  return {
    proc,
    output: () => out,
    waitFor: async (re, timeoutMs = 25_000) => {
      const end = Date.now() + timeoutMs;
      while (!re.test(out)) {
        if (Date.now() > end)
          throw new Error(`timeout waiting for ${re}; launcher output:\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    powerCut: async () => {
      killGroup('SIGKILL');
      await exited;
    },
    stop: async () => {
      killGroup('SIGTERM');
      const t = setTimeout(() => killGroup('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}
