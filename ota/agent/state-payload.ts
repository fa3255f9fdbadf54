// The retained `ota/state` payload (CONTRACT.md §3), built from the persisted state.
import type { OtaState } from '../device/state-store.js';
import { waitsForWindow } from '../device/states.js';

/** History entries published (the file keeps more). */
export const PUBLISHED_HISTORY = 20;

export interface OtaStatePayload {
  active: OtaState['active'];
  slots: {
    factory: { version: string };
    a: { name: string; version: string; counter: number; installedAt: string } | null;
    b: { name: string; version: string; counter: number; installedAt: string } | null;
  };
  phase: OtaState['phase'];
  progress: number;
  error?: { reason: string; message: string };
  update?: { id: string; version?: string; target?: string };
  /** The agent switch waits for this maintenance window (Switching, not yet inside it). */
  waitsForWindow?: { start: string; end: string };
  plcMap?: OtaState['plcMap'];
  history: OtaState['history'];
  ts: string;
}

export function statePayload(s: OtaState, factoryVersion: string): OtaStatePayload {
  const slot = (x: OtaState['slots']['a']) =>
    x ? { name: x.name, version: x.version, counter: x.counter, installedAt: x.installedAt } : null;
  return {
    active: s.active,
    slots: { factory: { version: factoryVersion }, a: slot(s.slots.a), b: slot(s.slots.b) },
    phase: s.phase,
    progress: Math.round(s.progress * 1000) / 1000,
    ...(s.error ? { error: s.error } : {}),
    ...(s.update
      ? {
          update: {
            id: s.update.id,
            ...(s.update.version ? { version: s.update.version } : {}),
            ...(s.update.target ? { target: s.update.target } : {}),
          },
        }
      : {}),
    ...(s.plcMap ? { plcMap: s.plcMap } : {}),
    ...(waitsForWindow(s) && s.update?.switchWindow
      ? { waitsForWindow: { ...s.update.switchWindow } }
      : {}),
    history: s.history.slice(-PUBLISHED_HISTORY),
    ts: new Date().toISOString(),
  };
}
