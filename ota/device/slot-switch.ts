// The moves that change which slot runs: switch (after install), commit, roll back. Each is one atomic
// state write, so a power cut leaves either the old or the new slot active, never a mix.
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomicSync, WORLD_READABLE } from '../../platform/atomic-file.js';
import { OtaStateError } from '../errors.js';
import { move, type Health, type OtaState } from './state-store.js';
import type { OtaPaths, SlotName } from './paths.js';

export function isHealthyAgainst(h: Health | undefined, baseline: Health): boolean {
  if (!h) return false;
  return h.plcsOk >= baseline.plcsOk && (h.wmsConnected || !baseline.wmsConnected);
}

/** Switching → Probation: the new slot becomes active (the state file's rename is the switch). */
export function completeSwitch(paths: OtaPaths, s: OtaState, baseline: Health): OtaState {
  const u = s.update;
  if (s.phase !== 'Switching' || !u?.slot)
    throw new OtaStateError(`cannot switch in phase ${s.phase}`);
  u.fromSlot ??= s.active;
  s.previous = u.fromSlot;
  s.active = u.slot;
  u.probation = { startedAt: new Date().toISOString(), boots: 1, baseline };
  return move(paths, s, 'Probation', {
    message: `slot ${u.slot} (${u.version}) active on probation; baseline ${JSON.stringify(baseline)}`,
  });
}

export function commit(paths: OtaPaths, s: OtaState, message: string): OtaState {
  s.progress = 1;
  return move(paths, s, 'Committed', { message });
}

/** Where a rollback goes: the slot active before the update in flight, else the previous one. */
export function rollbackTarget(s: OtaState): SlotName {
  const inFlight = ['Switching', 'Probation', 'RollingBack'].includes(s.phase);
  const t = inFlight && s.update?.fromSlot ? s.update.fromSlot : s.previous;
  return t !== 'factory' && !s.slots[t] ? 'factory' : t;
}

type Reason = NonNullable<OtaState['error']>['reason'];

/** (…) → RollingBack: records why and where to go. Idempotent. */
export function beginRollBack(
  paths: OtaPaths,
  s: OtaState,
  reason: Reason,
  message: string,
): OtaState {
  if (s.phase === 'RollingBack') return s;
  const to = rollbackTarget(s);
  if (to === s.active && s.phase !== 'Switching')
    throw new OtaStateError(
      `nothing to roll back to: slot ${s.active} is active and no other slot is available`,
    );
  s.error = { reason, message };
  if (s.update) s.update.fromSlot = to;
  else
    s.update = {
      id: `rollback-${Date.now()}`,
      source: {},
      startedAt: new Date().toISOString(),
      fromSlot: to,
    };
  return move(paths, s, 'RollingBack', { message, reason, force: s.phase === 'Idle' });
}

/** RollingBack → Failed: config backup restored, the previous slot active again. Safe to repeat after a crash. */
export function finishRollBack(
  paths: OtaPaths,
  s: OtaState,
  slotExists: (slot: SlotName) => boolean,
): OtaState {
  const backup = s.update?.configBackup;
  if (backup && existsSync(backup.backup))
    writeFileAtomicSync(backup.path, readFileSync(backup.backup), WORLD_READABLE);
  let to = s.update?.fromSlot ?? 'factory';
  if (!slotExists(to)) to = 'factory';
  const bad = s.active;
  s.active = to;
  s.previous = 'factory';
  return move(paths, s, 'Failed', {
    message: `rolled back from slot ${bad} to ${to}${backup ? '; config restored from backup' : ''}: ${s.error?.message ?? 'rollback'}`,
    ...(s.error ? { reason: s.error.reason } : {}),
  });
}

export function rollBack(
  paths: OtaPaths,
  s: OtaState,
  reason: Reason,
  message: string,
  slotExists: (slot: SlotName) => boolean,
): OtaState {
  beginRollBack(paths, s, reason, message);
  return finishRollBack(paths, s, slotExists);
}

/** Copy the config file aside before touching anything (restored by a rollback). */
export function backupConfig(
  paths: OtaPaths,
  configPath: string | undefined,
): { path: string; backup: string } | undefined {
  if (!configPath || !existsSync(configPath)) return undefined;
  const backup = `${paths.configBackup}/config`;
  writeFileAtomicSync(backup, readFileSync(configPath), WORLD_READABLE);
  return { path: configPath, backup };
}
