// Where a PLC map lives on the device ($DATA_DIR/ota/plc-map/) and which map is in force at start:
// the committed one (current.json), the candidate while a map deployment is switching or on
// probation, the one before it while rolling back. The agent reads this at start, so a map that was
// committed (or is on probation) survives kill -9 and restarts instead of the config's `plcs`.
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PlcConfig } from '../../plc/config/schema.js';
import {
  fsyncDirSync,
  replaceDirSync,
  writeFileAtomicSync,
  WORLD_READABLE,
} from '../../platform/atomic-file.js';
import type { OtaPaths } from '../device/paths.js';
import { loadState, type OtaState } from '../device/state-store.js';

export type MapId = NonNullable<OtaState['plcMap']>;
/** The map a deployment started from: restored by a rollback. `plcMap` null: the config's own. */
export interface PreviousMap {
  plcMap: MapId | null;
  plcs: PlcConfig[];
}

export function mapFiles(paths: OtaPaths) {
  const d = paths.plcMapDir;
  return {
    current: join(d, 'current.json'),
    tree: join(d, 'tree'),
    candidate: join(d, 'candidate.json'),
    candidateTree: join(d, 'candidate-tree'),
    previous: join(d, 'previous.json'),
  };
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function readPrevious(paths: OtaPaths): PreviousMap | undefined {
  const p = readJson<PreviousMap | PlcConfig[] | null>(mapFiles(paths).previous);
  if (!p) return undefined;
  return Array.isArray(p) ? { plcMap: null, plcs: p } : p; // an older file held the list alone
}

export function readCandidate(paths: OtaPaths): PlcConfig[] | undefined {
  return readJson<PlcConfig[]>(mapFiles(paths).candidate);
}

/** Before Switching: what runs now (for a rollback) and the new map with its tree (for a resume). */
export function stageCandidate(
  paths: OtaPaths,
  previous: PreviousMap,
  plcs: PlcConfig[],
  tree: string,
): void {
  const f = mapFiles(paths);
  writeFileAtomicSync(f.previous, JSON.stringify(previous), WORLD_READABLE);
  rmSync(f.candidateTree, { recursive: true, force: true });
  cpSync(tree, f.candidateTree, { recursive: true });
  writeFileAtomicSync(f.candidate, JSON.stringify(plcs), WORLD_READABLE);
}

/** Commit: the candidate becomes the current map (and the base of the next delta). */
export function promoteCandidate(paths: OtaPaths, plcs: PlcConfig[]): void {
  const f = mapFiles(paths);
  writeFileAtomicSync(f.current, JSON.stringify(plcs), WORLD_READABLE);
  if (existsSync(f.candidateTree)) replaceDirSync(f.candidateTree, f.tree);
  rmSync(f.candidate, { force: true });
  fsyncDirSync(paths.plcMapDir);
}

/** Rollback of a committed map: the previous one becomes current again (or the config's own). */
export function restorePrevious(paths: OtaPaths, prev: PreviousMap): void {
  const f = mapFiles(paths);
  if (prev.plcMap) writeFileAtomicSync(f.current, JSON.stringify(prev.plcs), WORLD_READABLE);
  else rmSync(f.current, { force: true });
  // The tree of the previous map is not kept: the next map must then come as a full bundle.
  rmSync(f.tree, { recursive: true, force: true });
  fsyncDirSync(paths.plcMapDir);
}

export function dropCandidate(paths: OtaPaths): void {
  const f = mapFiles(paths);
  rmSync(f.candidate, { force: true });
  rmSync(f.candidateTree, { recursive: true, force: true });
}

/**
 * The PLC list in force at start, if OTA owns it: the candidate during Switching/Probation of a map
 * deployment, the previous map during its RollingBack, else the committed map. Undefined: the
 * config's `plcs` stand. Read-only (no lock): the state file is replaced atomically.
 */
export function plcMapInForce(paths: OtaPaths): { plcs: PlcConfig[]; source: string } | undefined {
  let s: OtaState;
  try {
    s = loadState(paths);
  } catch {
    return undefined; // an unreadable state is reported by ota status; the config's map runs
  }
  const inFlight = s.update?.target === 'plc-map';
  if (inFlight && (s.phase === 'Switching' || s.phase === 'Probation')) {
    const c = readCandidate(paths);
    if (c) return { plcs: c, source: `PLC map ${s.update?.version ?? '?'} (on probation)` };
  }
  if (inFlight && s.phase === 'RollingBack') {
    const p = readPrevious(paths);
    if (p) return { plcs: p.plcs, source: 'the PLC map before the one rolled back' };
  }
  if (s.plcMap) {
    const c = readJson<PlcConfig[]>(mapFiles(paths).current);
    if (c) return { plcs: c, source: `committed PLC map ${s.plcMap.name} ${s.plcMap.version}` };
  }
  return undefined;
}
