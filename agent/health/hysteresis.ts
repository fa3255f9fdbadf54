// A level that rises above its threshold and clears only a margin below it, so a value hovering
// around a threshold does not raise an alert on every sample.
import type { LevelThresholds } from './config-schema.js';

export type Level = 'ok' | 'warning' | 'critical';

export const LEVEL_RANK: Record<Level, number> = { ok: 0, warning: 1, critical: 2 };

export class HysteresisLevel {
  private current: Level = 'ok';

  constructor(
    private readonly t: LevelThresholds,
    private readonly margin: number,
  ) {}

  get level(): Level {
    return this.current;
  }

  /** Feed one sample; returns the (possibly unchanged) level. */
  update(value: number): Level {
    const { warn, critical } = this.t;
    let next: Level;
    if (value > critical) next = 'critical';
    else if (value > warn) next = 'warning';
    else next = 'ok';
    // Going down needs the value to fall the margin below the threshold of the current level.
    if (LEVEL_RANK[next] < LEVEL_RANK[this.current]) {
      const held = this.current === 'critical' ? critical : warn;
      if (value > held - this.margin) next = this.current;
      else if (this.current === 'critical' && next === 'ok' && value > warn - this.margin)
        next = 'warning';
    }
    this.current = next;
    return next;
  }
}
