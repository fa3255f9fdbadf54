// Device side of one deployment: Downloading → Verifying → Installing → Switching (→ launcher).
// Nothing outside ota/work, ota/downloads and the inactive slot is touched before every check passed.
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import type { Logger } from 'pino';
import { isOtaRefusal, OtaRefusal } from '../errors.js';
import { readBundle, resolveManifest, type OpenedBundle } from '../bundle/bundle-file.js';
import { bundleByteBound, manifestSchema, type Manifest } from '../bundle/manifest.js';
import { checkPayload, materialize } from '../bundle/materialize.js';
import { verifyManifest, decodeManifestUnverified } from '../bundle/signing.js';
import { scanTree, treeSha256, sha256 } from '../bundle/tree.js';
import { replaceDirSync } from '../../platform/atomic-file.js';
import { download, type DownloadSettings } from './download.js';
import { holdIfAsked } from './hold.js';
import { withOtaLock } from './op-lock.js';
import { otaPaths, slotDir, type OtaPaths, type SlotName } from './paths.js';
import { checkPolicy, raiseCounter, readCounter, type DeviceFacts } from './policy.js';
import { backupConfig } from './slot-switch.js';
import { loadState, move, type Health, type OtaState } from './state-store.js';
import { RESTING_PHASES, isTransitionError } from './states.js';

export interface UpdaterContext {
  dataDir: string;
  factory: string;
  keys: readonly JWK[];
  maxBundleBytes: number;
  clockToleranceSeconds?: number;
  facts: DeviceFacts;
  configPath?: string | undefined;
  logger: Logger;
  download?: Partial<DownloadSettings>;
  /** Called after every persisted change (publish ota/state). */
  onState?: (s: OtaState) => void;
  /** Link health now: recorded as the baseline the new slot must match. */
  health?: () => Health;
  /** plc-map bundles: install the verified map (the caller runs its probation). */
  installPlcMap?: (
    m: Manifest,
    map: { text: string; tree: string },
    s: OtaState,
    paths: OtaPaths,
  ) => Promise<void>;
}

export type UpdateSource =
  { file: string } | { url: string; offerJws?: string } | { offerJws: string };

function otherSlot(active: SlotName, s: OtaState): 'a' | 'b' {
  if (active === 'a') return 'b';
  if (active === 'b') return 'a';
  // From factory: reuse the slot that is not the rollback target.
  return s.previous === 'a' ? 'b' : 'a';
}

/** Run one deployment to Switching (agent) or to its end (plc-map). Refusals end in Failed with the reason. */
export async function runUpdate(ctx: UpdaterContext, source: UpdateSource): Promise<OtaState> {
  const paths = otaPaths(ctx.dataDir);
  return withOtaLock(paths.lock, 'update', async () => {
    const s = loadState(paths);
    if (!RESTING_PHASES.includes(s.phase))
      throw new OtaRefusal('busy', `an update is in progress (phase ${s.phase})`);
    const offerJws = 'offerJws' in source ? source.offerJws : undefined;
    const url = 'url' in source ? source.url : undefined;
    const offered = offerJws ? safeDecode(offerJws) : undefined;
    const label = offered?.success
      ? `${offered.data.name}@${offered.data.version}#${offered.data.counter}`
      : (url ?? ('file' in source ? source.file : 'offer'));
    s.update = {
      id: label,
      source: { ...(url ? { url } : {}), ...('file' in source ? { file: source.file } : {}) },
      ...(offerJws ? { offerJws } : {}),
      startedAt: new Date().toISOString(),
    };
    s.error = undefined;
    s.progress = 0;
    try {
      await deploy(ctx, paths, s, source);
    } catch (e) {
      fail(ctx, paths, s, e);
    }
    return s;
  });
}

export function publish(ctx: UpdaterContext, s: OtaState): void {
  try {
    ctx.onState?.(s);
  } catch (e) {
    ctx.logger.warn({ err: e }, 'ota state publish failed');
  }
}

export async function step(
  ctx: UpdaterContext,
  paths: OtaPaths,
  s: OtaState,
  to: OtaState['phase'],
  message: string,
): Promise<void> {
  move(paths, s, to, { message });
  ctx.logger.info({ update: s.update?.id, phase: to }, `ota ${message}`);
  publish(ctx, s);
  await holdIfAsked(to);
}

function fail(ctx: UpdaterContext, paths: OtaPaths, s: OtaState, e: unknown): void {
  const reason = isOtaRefusal(e)
    ? e.reason
    : isTransitionError(e)
      ? 'loop-guard'
      : 'install-failed';
  const message = e instanceof Error ? e.message : String(e);
  s.error = { reason, message };
  move(paths, s, 'Failed', { message: `refused: ${message}`, reason, force: true });
  ctx.logger.warn({ update: s.update?.id, reason }, `ota refused: ${message}`);
  publish(ctx, s);
}

async function deploy(
  ctx: UpdaterContext,
  paths: OtaPaths,
  s: OtaState,
  source: UpdateSource,
): Promise<void> {
  const verify = (jws: string) =>
    verifyManifest(jws, { keys: ctx.keys, clockToleranceSeconds: ctx.clockToleranceSeconds });
  const offerJws = 'offerJws' in source ? source.offerJws : undefined;
  let cap = ctx.maxBundleBytes;
  let url = 'url' in source ? source.url : undefined;
  if (offerJws) {
    // An offer is checked before a single byte is downloaded.
    const m = await verify(offerJws);
    Object.assign(s.update!, {
      name: m.name,
      version: m.version,
      counter: m.counter,
      kind: m.kind,
      target: m.target,
    });
    checkPolicy(m, ctx.facts, readCounter(paths, m.target));
    cap = Math.min(cap, bundleByteBound(m, Buffer.byteLength(offerJws.trim())));
    url ??= m.url;
    if (!url)
      throw new OtaRefusal('bad-offer', 'the offered manifest has no url and the offer gave none');
  }
  let file: string;
  if (url) {
    file = join(paths.downloads, `${sha256(url).slice(0, 16)}.bundle`);
    rmSync(file, { force: true });
    await step(ctx, paths, s, 'Downloading', `downloading ${url} (at most ${cap} bytes)`);
    let lastPersist = 0;
    await download({
      url,
      file,
      maxBytes: cap,
      settings: ctx.download,
      log: (event, fields) => ctx.logger.warn({ update: s.update?.id, ...fields }, event),
      onProgress: (bytes, total) => {
        s.progress = total ? bytes / total : 0;
        if (Date.now() - lastPersist > 1000) {
          lastPersist = Date.now();
          publish(ctx, s);
        }
      },
    });
    await step(ctx, paths, s, 'Verifying', `verifying ${file}`);
  } else {
    file = (source as { file: string }).file;
    await step(ctx, paths, s, 'Verifying', `verifying ${file}`);
  }
  rmSync(paths.work, { recursive: true, force: true });
  mkdirSync(paths.work, { recursive: true });
  const opened = await readBundle(file, { maxBytes: cap, extractDir: join(paths.work, 'payload') });
  const manifestJws = await resolveAgainstDevice(opened, [
    slotDir(paths, ctx.factory, s.active),
    join(paths.plcMapDir, 'tree'),
  ]);
  const m = await verify(manifestJws);
  if (offerJws && manifestJws.trim() !== offerJws.trim())
    throw new OtaRefusal('bad-manifest', 'the bundle manifest differs from the offered one');
  s.update = {
    ...s.update!,
    id: `${m.name}@${m.version}#${m.counter}`,
    name: m.name,
    version: m.version,
    counter: m.counter,
    kind: m.kind,
    target: m.target,
  };
  checkPolicy(m, ctx.facts, readCounter(paths, m.target));
  checkPayload(m, opened.payload);
  const active =
    m.target === 'plc-map' ? join(paths.plcMapDir, 'tree') : slotDir(paths, ctx.factory, s.active);
  if (m.kind === 'delta') {
    const tree = existsSync(active) ? treeSha256(await scanTree(active)) : 'none';
    if (tree !== m.base!.treeSha256)
      throw new OtaRefusal(
        'base-mismatch',
        `delta ${m.name} ${m.version} is for base ${m.base!.version} (tree ${m.base!.treeSha256.slice(0, 12)}), but ${m.target === 'plc-map' ? 'the installed PLC map' : `slot ${s.active}`} differs (tree ${tree.slice(0, 12)}): the full bundle is needed`,
      );
  }
  const backup = backupConfig(paths, ctx.configPath);
  if (backup) s.update.configBackup = backup;
  await step(
    ctx,
    paths,
    s,
    'Installing',
    `installing ${m.name} ${m.version}${backup ? ' (config backed up)' : ''}`,
  );
  if (m.target === 'plc-map') {
    const tree = join(paths.work, 'tree');
    await materialize(m, opened.payload, tree, m.kind === 'delta' ? active : undefined);
    const text = readFileSync(join(tree, m.files[0]!.path), 'utf8');
    if (!ctx.installPlcMap)
      throw new OtaRefusal('install-failed', 'this gateway cannot apply PLC maps (no applyPlcMap)');
    await ctx.installPlcMap(m, { text, tree }, s, paths);
    return;
  }
  const slot = otherSlot(s.active, s);
  const staging = paths.staging(slot);
  rmSync(staging, { recursive: true, force: true });
  await materialize(m, opened.payload, staging, m.kind === 'delta' ? active : undefined);
  // Dependencies come from the image: a slot without node_modules uses the factory's.
  const deps = join(ctx.factory, 'node_modules');
  if (!existsSync(join(staging, 'node_modules')) && existsSync(deps))
    symlinkSync(deps, join(staging, 'node_modules'), 'dir');
  replaceDirSync(staging, paths.slot(slot));
  s.slots[slot] = {
    name: m.name,
    version: m.version,
    counter: m.counter,
    treeSha256: m.treeSha256,
    installedAt: new Date().toISOString(),
  };
  s.update.slot = slot;
  s.update.fromSlot = s.active;
  rmSync(paths.work, { recursive: true, force: true });
  // Raised before the switch: a release that is rolled back cannot be offered again with the same counter.
  raiseCounter(paths, m.target, m.counter);
  const baseline = ctx.health?.();
  if (baseline) s.update.baseline = baseline;
  await step(ctx, paths, s, 'Switching', `slot ${slot} holds ${m.name} ${m.version}; switching`);
}

function safeDecode(jws: string) {
  try {
    return manifestSchema.safeParse(decodeManifestUnverified(jws).manifest);
  } catch {
    return undefined;
  }
}

/** Record a refusal that happened before a deployment started (e.g. an unreadable offer). */
export async function recordRefusal(ctx: UpdaterContext, e: unknown): Promise<OtaState> {
  const paths = otaPaths(ctx.dataDir);
  return withOtaLock(paths.lock, 'refusal', () => {
    const s = loadState(paths);
    if (RESTING_PHASES.includes(s.phase)) {
      s.update = { id: 'offer', source: {}, startedAt: new Date().toISOString() };
      fail(ctx, paths, s, e);
    }
    return s;
  });
}

/** A delta's patched manifest is rebuilt from the tree it was made for: the agent slot or the PLC map. */
async function resolveAgainstDevice(opened: OpenedBundle, bases: string[]): Promise<string> {
  let last: unknown;
  for (const base of bases.filter((b) => existsSync(b))) {
    try {
      return await resolveManifest(opened, base);
    } catch (e) {
      last = e;
    }
  }
  if (last) throw last;
  return resolveManifest(opened, undefined);
}
