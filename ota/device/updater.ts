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
import type { KeyResolver } from '../../platform/signature/key-ring.js';
import { scanTree, treeSha256, sha256 } from '../bundle/tree.js';
import { replaceDirSync } from '../../platform/atomic-file.js';
import { download, type DownloadSettings } from './download.js';
import { holdIfAsked } from './hold.js';
import { withOtaLock } from './op-lock.js';
import { otaPaths, slotDir, type OtaPaths, type SlotName } from './paths.js';
import { checkPolicy, raiseCounter, readCounter, type DeviceFacts } from './policy.js';
import { backupConfig } from './slot-switch.js';
import { isLoopGuardError, loadState, move, type Health, type OtaState } from './state-store.js';
import { RESTING_PHASES } from './states.js';

export interface UpdaterContext {
  dataDir: string;
  factory: string;
  keys: readonly JWK[] | KeyResolver;
  /** Throws unless the signer may sign OTA for this target now (role ota, targets). */
  authorize?: (kid: string, target: string) => void;
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
  /**
   * The maintenance window an agent switch waits for (ISO times; the one open now, else the next), or
   * undefined to switch at once (ota.switch now, or no window). Not asked for a manifest signed "now".
   */
  switchWindow?: () => { start: string; end: string } | undefined;
  /** plc-map bundles: install the verified map (the caller runs its probation). */
  installPlcMap?: (
    m: Manifest,
    map: { text: string; tree: string },
    s: OtaState,
    paths: OtaPaths,
  ) => Promise<void>;
}

/** `fullUrl`: where the full bundle is, fetched when a delta does not fit this device's base. */
export type UpdateSource =
  | { file: string }
  | { url: string; offerJws?: string; fullUrl?: string }
  | { offerJws: string; fullUrl?: string };

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
  const reason = isOtaRefusal(e) ? e.reason : isLoopGuardError(e) ? 'loop-guard' : 'install-failed';
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
    verifyManifest(jws, {
      keys: ctx.keys,
      clockToleranceSeconds: ctx.clockToleranceSeconds,
      ...(ctx.authorize ? { authorize: ctx.authorize } : {}),
    });
  const offerJws = 'offerJws' in source ? source.offerJws : undefined;
  let cap = ctx.maxBundleBytes;
  let url = 'url' in source ? source.url : undefined;
  let fullUrl = 'fullUrl' in source ? source.fullUrl : undefined;
  let offered: Manifest | undefined;
  if (offerJws) {
    // An offer is checked before a single byte is downloaded.
    const m = (offered = await verify(offerJws));
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
    fullUrl ??= m.fullUrl;
    if (!url)
      throw new OtaRefusal('bad-offer', 'the offered manifest has no url and the offer gave none');
  }
  let file = url ? await fetchBundle(ctx, paths, s, url, cap) : (source as { file: string }).file;
  await step(ctx, paths, s, 'Verifying', `verifying ${file}`);
  let opened: Awaited<ReturnType<typeof openAndCheck>>;
  try {
    opened = await openAndCheck(ctx, paths, s, file, cap, verify);
    if (offerJws && opened.jws.trim() !== offerJws.trim())
      throw new OtaRefusal('bad-manifest', 'the bundle manifest differs from the offered one');
  } catch (e) {
    // A delta for another base: fetch the full bundle when the signed manifest or the offer names
    // one, keeping the refusal in the history (Verifying → Downloading, reason base-mismatch).
    if (!(isOtaRefusal(e) && e.reason === 'base-mismatch' && fullUrl)) throw e;
    move(paths, s, 'Downloading', {
      message: `${e.message}; fetching the full bundle ${fullUrl}`,
      reason: 'base-mismatch',
    });
    ctx.logger.warn({ update: s.update?.id, fullUrl }, `ota delta refused: ${e.message}`);
    publish(ctx, s);
    file = await fetchBundle(ctx, paths, s, fullUrl, ctx.maxBundleBytes, true);
    await step(ctx, paths, s, 'Verifying', `verifying the full bundle ${file}`);
    opened = await openAndCheck(ctx, paths, s, file, ctx.maxBundleBytes, verify);
    const f = opened.manifest;
    if (
      f.kind !== 'full' ||
      (offered &&
        (f.name !== offered.name ||
          f.version !== offered.version ||
          f.counter !== offered.counter ||
          f.target !== offered.target ||
          f.treeSha256 !== offered.treeSha256))
    )
      throw new OtaRefusal(
        'bad-manifest',
        `the bundle at fullUrl is not the full bundle of ${offered ? `${offered.name} ${offered.version}` : 'the offered release'}`,
      );
  }
  const m = opened.manifest;
  const payload = opened.payload;
  const active =
    m.target === 'plc-map' ? join(paths.plcMapDir, 'tree') : slotDir(paths, ctx.factory, s.active);
  const update = s.update!;
  const backup = backupConfig(paths, ctx.configPath);
  if (backup) update.configBackup = backup;
  await step(
    ctx,
    paths,
    s,
    'Installing',
    `installing ${m.name} ${m.version}${backup ? ' (config backed up)' : ''}`,
  );
  if (m.target === 'plc-map') {
    const tree = join(paths.work, 'tree');
    await materialize(m, payload, tree, m.kind === 'delta' ? active : undefined);
    const text = readFileSync(join(tree, m.files[0]!.path), 'utf8');
    if (!ctx.installPlcMap)
      throw new OtaRefusal('install-failed', 'this gateway cannot apply PLC maps (no applyPlcMap)');
    await ctx.installPlcMap(m, { text, tree }, s, paths);
    return;
  }
  const slot = otherSlot(s.active, s);
  const staging = paths.staging(slot);
  rmSync(staging, { recursive: true, force: true });
  await materialize(m, payload, staging, m.kind === 'delta' ? active : undefined);
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
  update.slot = slot;
  update.fromSlot = s.active;
  rmSync(paths.work, { recursive: true, force: true });
  // Raised before the switch: a release that is rolled back cannot be offered again with the same counter.
  raiseCounter(paths, m.target, m.counter);
  const baseline = ctx.health?.();
  if (baseline) update.baseline = baseline;
  // Persisted with the move: a restart while waiting keeps waiting (the launcher reads it).
  const w = m.now ? undefined : ctx.switchWindow?.();
  if (w) update.switchWindow = w;
  await step(
    ctx,
    paths,
    s,
    'Switching',
    w
      ? `slot ${slot} holds ${m.name} ${m.version}; switching in the maintenance window ${w.start} – ${w.end}`
      : `slot ${slot} holds ${m.name} ${m.version}; switching${m.now ? ' now (signed "now")' : ''}`,
  );
}

/** Downloading: the bundle at `url` into ota/downloads (resumable .part), progress published. */
async function fetchBundle(
  ctx: UpdaterContext,
  paths: OtaPaths,
  s: OtaState,
  url: string,
  cap: number,
  alreadyDownloading = false,
): Promise<string> {
  const file = join(paths.downloads, `${sha256(url).slice(0, 16)}.bundle`);
  rmSync(file, { force: true });
  if (!alreadyDownloading)
    await step(ctx, paths, s, 'Downloading', `downloading ${url} (at most ${cap} bytes)`);
  let lastPersist = 0;
  s.progress = 0;
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
  return file;
}

/** Verifying: the tar read as hostile, the manifest verified, policy, payload and delta base checked. */
async function openAndCheck(
  ctx: UpdaterContext,
  paths: OtaPaths,
  s: OtaState,
  file: string,
  cap: number,
  verify: (jws: string) => Promise<Manifest>,
) {
  rmSync(paths.work, { recursive: true, force: true });
  mkdirSync(paths.work, { recursive: true });
  const opened = await readBundle(file, { maxBytes: cap, extractDir: join(paths.work, 'payload') });
  const jws = await resolveAgainstDevice(opened, [
    slotDir(paths, ctx.factory, s.active),
    join(paths.plcMapDir, 'tree'),
  ]);
  const m = await verify(jws);
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
  return { manifest: m, jws, payload: opened.payload };
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
