// `wms-gateway ota ...`: publisher side (keygen, pack, delta, inspect, verify) and device side
// (status, history, rollback, install) against the local data dir. Errors: one line, exit 2.
import type { Command } from 'commander';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  mkdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import type { JWK } from 'jose';
import { UsageError } from '../../platform/usage-error.js';
import { progressOption, progressReporter, type ProgressMode } from './progress-reporter.js';
import { writeKeyPair, type KeygenOptions } from './key-pair-files.js';

type PackOpts = {
  key: string;
  name: string;
  bundleVersion: string;
  counter: string;
  target: string;
  requiresImage?: string;
  deviceType?: string[];
  ring?: string[];
  percentage?: string;
  url?: string;
  fullUrl?: string;
  now?: boolean;
  iat?: string;
  expiresInDays: string;
  out: string;
  progress: ProgressMode;
};

const collect = (v: string, prev: string[] = []) => [...prev, v];

function int(v: string | undefined, name: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name}: must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

function readJson(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(
      `${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
}

/** A plc-map input may be a single file: stage it as plcs.<ext> in a directory. */
function asTreeDir(input: string, target: string, tmp: string, tag: string): string {
  if (!existsSync(input)) throw new UsageError(`${input}: not found`);
  if (statSync(input).isDirectory()) return input;
  if (target !== 'plc-map')
    throw new UsageError(`${input}: an agent bundle is built from a directory`);
  const dir = join(tmp, tag);
  mkdirSync(dir, { recursive: true });
  const ext = extname(input) === '.json' ? 'json' : 'yaml';
  cpSync(input, join(dir, `plcs.${ext}`));
  return dir;
}

async function packOptions(o: PackOpts) {
  const privateJwk = readJson(o.key, 'key') as JWK;
  if (!privateJwk || typeof privateJwk !== 'object' || !('d' in privateJwk))
    throw new UsageError(`--key ${o.key}: not a private JWK`);
  if (o.target !== 'agent' && o.target !== 'plc-map')
    throw new UsageError(`--target: must be agent or plc-map`);
  const iat = int(o.iat ?? process.env.SOURCE_DATE_EPOCH, 'iat') ?? Math.floor(Date.now() / 1000);
  const days = int(o.expiresInDays, 'expires-in-days', 1)!;
  const percentage = o.percentage === undefined ? undefined : Number(o.percentage);
  if (percentage !== undefined && !(percentage >= 0 && percentage <= 100))
    throw new UsageError(`--percentage: must be 0..100`);
  const rollout =
    o.ring || percentage !== undefined
      ? { ...(o.ring ? { ring: o.ring } : {}), ...(percentage !== undefined ? { percentage } : {}) }
      : undefined;
  return {
    name: o.name,
    version: o.bundleVersion,
    counter: int(o.counter, 'counter', 1)!,
    target: o.target as 'agent' | 'plc-map',
    privateJwk,
    iat,
    exp: iat + days * 86_400,
    requires: {
      ...(o.requiresImage ? { image: o.requiresImage } : {}),
      ...(o.deviceType ? { deviceTypes: o.deviceType } : {}),
    },
    ...(rollout ? { rollout } : {}),
    ...(o.url ? { url: o.url } : {}),
    ...(o.fullUrl ? { fullUrl: o.fullUrl } : {}),
    ...(o.now ? { now: true } : {}),
  };
}

/** Publisher/device errors of a known kind become one-line usage errors. */
async function guard<T>(fn: () => Promise<T>): Promise<T> {
  const { isOtaRefusal, isOtaStateError } = await import('../../ota/errors.js');
  const { isTreeError } = await import('../../ota/bundle/tree.js');
  const { isXdeltaError } = await import('../../ota/bundle/xdelta.js');
  try {
    return await fn();
  } catch (e) {
    if (isOtaRefusal(e)) throw new UsageError(`${e.reason}: ${e.message}`);
    if (isOtaStateError(e) || isTreeError(e) || isXdeltaError(e)) throw new UsageError(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR')
      throw new UsageError(`${(e as NodeJS.ErrnoException).path ?? 'file'}: ${code}`);
    if ((e as { name?: string }).name === 'ZodError')
      throw new UsageError(`manifest: ${(e as Error).message.split('\n')[0]}`);
    throw e;
  }
}

function addPackOptions(c: Command): Command {
  return c
    .requiredOption('--key <file>', 'private JWK (from ota keygen)')
    .requiredOption('--name <name>', 'bundle name, e.g. wms-gateway')
    .requiredOption('--bundle-version <semver>', 'version of the result (semver)')
    .requiredOption('--counter <n>', 'release counter, above every earlier release (anti-rollback)')
    .requiredOption('-o, --out <file>', 'bundle file to write')
    .option('--target <t>', 'agent or plc-map', 'agent')
    .option('--requires-image <range>', 'semver range of the image (launcher) version')
    .option('--device-type <t>', 'allowed device type (repeatable)', collect)
    .option('--ring <r>', 'rollout ring (repeatable)', collect)
    .option('--percentage <p>', 'rollout percentage of gateways (stable hash of the gateway id)')
    .option(
      '--url <url>',
      'where the bundle will be served (offers may then carry the manifest alone)',
    )
    .option(
      '--full-url <url>',
      "a delta's full bundle: devices whose base differs fetch it instead of refusing",
    )
    .option('--now', 'signed "now": the agent switches at once, not in the next maintenance window')
    .option(
      '--iat <seconds>',
      'issued-at (default SOURCE_DATE_EPOCH, else now): fix it for reproducible bytes',
    )
    .option('--expires-in-days <n>', 'validity', '90')
    .addOption(progressOption());
}

function printSummary(
  r: {
    manifest: { name: string; version: string; kind: string; files: unknown[]; payload: unknown[] };
    bytes: number;
  },
  out: string,
) {
  const m = r.manifest;
  process.stdout.write(
    `${out}: ${m.kind} bundle ${m.name} ${m.version}, ${m.files.length} files, ${m.payload.length} payload entries, ${r.bytes} bytes\n`,
  );
}

export function registerOtaCommand(program: Command): void {
  const ota = program
    .command('ota')
    .description(
      'signed OTA bundles: publisher (keygen, pack, delta, inspect, verify) and device (status, history, rollback, install)',
    );

  ota
    .command('keygen')
    .description(
      'generate a signing key pair: <kid>.private.jwk (keep secret) and <kid>.public.jwk (for ota.keys)',
    )
    .requiredOption('--out <dir>', 'directory to write the two JWK files to')
    .option('--alg <alg>', 'EdDSA (Ed25519, deterministic signatures) or ES256', 'EdDSA')
    .option('--kid <id>', 'key id (default: the JWK thumbprint)')
    .action((o: KeygenOptions) => writeKeyPair(o));

  addPackOptions(
    ota
      .command('pack')
      .description('build a full bundle from a directory (agent) or a plcs file (plc-map)')
      .argument('<input>', 'build directory, or plcs.yaml/json for --target plc-map'),
  ).action(async (input: string, o: PackOpts) =>
    guard(async () => {
      const { packFull } = await import('../../ota/bundle/pack.js');
      const progress = progressReporter(o.progress);
      const opts = { ...(await packOptions(o)), onProgress: progress.onProgress };
      const tmp = mkdtempSync(join(tmpdir(), 'ota-cli-'));
      try {
        const r = await packFull(asTreeDir(input, o.target, tmp, 'new'), opts, o.out);
        progress.stop();
        printSummary(r, o.out);
      } finally {
        progress.stop();
        rmSync(tmp, { recursive: true, force: true });
      }
    }),
  );

  addPackOptions(
    ota
      .command('delta')
      .description(
        'build a delta bundle (xdelta3 patches of changed files, removed list) from a base to a new build',
      )
      .argument('<input>', 'new build directory, or plcs file for --target plc-map')
      .requiredOption(
        '--base <dir|bundle>',
        'base build directory, base plcs file, or the base full bundle',
      )
      .requiredOption('--base-version <semver>', 'version of the base'),
  ).action(async (input: string, o: PackOpts & { base: string; baseVersion: string }) =>
    guard(async () => {
      const { packDelta } = await import('../../ota/bundle/pack.js');
      const progress = progressReporter(o.progress);
      const opts = { ...(await packOptions(o)), onProgress: progress.onProgress };
      const tmp = mkdtempSync(join(tmpdir(), 'ota-cli-'));
      try {
        const base = o.base.endsWith('.bundle') ? o.base : asTreeDir(o.base, o.target, tmp, 'base');
        const r = await packDelta(
          base,
          asTreeDir(input, o.target, tmp, 'new'),
          { ...opts, baseVersion: o.baseVersion },
          o.out,
        );
        progress.stop();
        printSummary(r, o.out);
      } finally {
        progress.stop();
        rmSync(tmp, { recursive: true, force: true });
      }
    }),
  );

  ota
    .command('inspect')
    .description('print a bundle manifest (signature not checked) and its payload entries')
    .argument('<bundle>')
    .option('--json', 'the manifest and its compact JWS (what an ota/offer carries) as JSON')
    .option(
      '--base <dir|bundle>',
      'base tree or full bundle: needed to read a delta whose manifest is a patch',
    )
    .action(async (file: string, o: { json?: boolean; base?: string }) =>
      guard(async () => {
        const { inspectBundle } = await import('../../ota/bundle/inspect.js');
        process.stdout.write(await inspectBundle(file, Boolean(o.json), o.base));
      }),
    );

  ota
    .command('verify')
    .description(
      'check a bundle: signature with the given public keys, validity, tar entries, payload and file hashes',
    )
    .argument('<bundle>')
    .requiredOption('--keys <file>', 'public JWK, JWK array or {"keys": [...]} (JWK set)')
    .option(
      '--base <dir|bundle>',
      'base tree or full bundle: a delta is then applied and every file checked',
    )
    .action(async (file: string, o: { keys: string; base?: string }) =>
      guard(async () => {
        const { verifyBundleFile } = await import('../../ota/bundle/inspect.js');
        const doc = readJson(o.keys, 'keys') as { keys?: unknown } | unknown[];
        const keys = (
          Array.isArray(doc)
            ? doc
            : Array.isArray((doc as { keys?: unknown }).keys)
              ? (doc as { keys: unknown[] }).keys
              : [doc]
        ) as JWK[];
        const m = await verifyBundleFile(file, keys, o.base);
        process.stdout.write(
          `${basename(file)}: OK — ${m.kind} ${m.target} bundle ${m.name} ${m.version} (counter ${m.counter}), signature, ${m.payload.length} payload entries and ${m.kind === 'full' || o.base ? m.files.length + ' resulting files' : 'payload hashes'} verified\n`,
        );
      }),
    );

  const dataDirOpt = (c: Command) =>
    c.option('--data-dir <dir>', 'data directory (default $DATA_DIR, ./data, /data under balena)');

  dataDirOpt(
    ota
      .command('status')
      .description('the active slot, the slots, the phase and the last error')
      .option('--json', 'the ota/state payload as JSON'),
  ).action(async (o: { dataDir?: string; json?: boolean }) =>
    guard(async () => {
      const { deviceStatus } = await import('../../ota/device/device-commands.js');
      const { resolveDataDir } = await import('../config/load.js');
      process.stdout.write(
        await deviceStatus(resolveDataDir({ dataDir: o.dataDir }), Boolean(o.json)),
      );
    }),
  );

  dataDirOpt(
    ota
      .command('history')
      .description('every state transition of past updates')
      .option('--json', 'as JSON'),
  ).action(async (o: { dataDir?: string; json?: boolean }) =>
    guard(async () => {
      const { deviceHistory } = await import('../../ota/device/device-commands.js');
      const { resolveDataDir } = await import('../config/load.js');
      process.stdout.write(
        await deviceHistory(resolveDataDir({ dataDir: o.dataDir }), Boolean(o.json)),
      );
    }),
  );

  dataDirOpt(
    ota
      .command('rollback')
      .description('go back to the previous slot (the launcher restarts the agent in it)'),
  ).action(async (o: { dataDir?: string }) =>
    guard(async () => {
      const { deviceRollback } = await import('../../ota/device/device-commands.js');
      const { resolveDataDir } = await import('../config/load.js');
      process.stdout.write(await deviceRollback(resolveDataDir({ dataDir: o.dataDir })));
    }),
  );

  dataDirOpt(
    ota
      .command('install')
      .description('install a bundle file or URL on this device (the launcher then switches to it)')
      .argument('<bundle>', 'bundle file or http(s) URL')
      .option('--config <file>', 'config file (keys, settings; backed up before the install)'),
  ).action(async (src: string, o: { dataDir?: string; config?: string }) =>
    guard(async () => {
      const { deviceInstall } = await import('../../ota/device/device-commands.js');
      const { loadConfig } = await import('../config/load.js');
      const r = loadConfig({ configPath: o.config, dataDir: o.dataDir });
      const { text, ok } = await deviceInstall(src, {
        dataDir: r.dataDir,
        gatewayId: r.gatewayId,
        ota: r.config.ota,
        configPath: r.configPath,
      });
      process.stdout.write(text);
      if (!ok) throw new UsageError('install refused (see above)');
    }),
  );
}
