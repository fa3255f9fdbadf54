// The simulator's memory: per unit id, four Modbus areas as flat typed arrays (fast to serve, cheap to copy).
import type { Area } from '../config/schema.js';

export const AREA_SIZE_MAX = 65_536;

export interface AreaSizes {
  coil: number;
  discrete: number;
  holding: number;
  input: number;
}

export class UnitMemory {
  readonly coil: Uint8Array;
  readonly discrete: Uint8Array;
  readonly holding: Uint16Array;
  readonly input: Uint16Array;

  constructor(
    readonly id: number,
    readonly sizes: AreaSizes,
  ) {
    this.coil = new Uint8Array(sizes.coil);
    this.discrete = new Uint8Array(sizes.discrete);
    this.holding = new Uint16Array(sizes.holding);
    this.input = new Uint16Array(sizes.input);
  }

  area(area: Area): Uint8Array | Uint16Array {
    return this[area];
  }
}

export class RegisterModel {
  private readonly units = new Map<number, UnitMemory>();

  addUnit(id: number, sizes: Partial<AreaSizes> = {}): UnitMemory {
    const existing = this.units.get(id);
    if (existing) return existing;
    const full: AreaSizes = {
      coil: sizes.coil ?? AREA_SIZE_MAX,
      discrete: sizes.discrete ?? AREA_SIZE_MAX,
      holding: sizes.holding ?? AREA_SIZE_MAX,
      input: sizes.input ?? AREA_SIZE_MAX,
    };
    const u = new UnitMemory(id, full);
    this.units.set(id, u);
    return u;
  }

  unit(id: number): UnitMemory | undefined {
    return this.units.get(id);
  }

  unitIds(): number[] {
    return [...this.units.keys()].sort((a, b) => a - b);
  }
}
