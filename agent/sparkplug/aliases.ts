// Metric aliases (Sparkplug 3.0 aliases): one number per metric, unique across the node and all
// its devices, announced in the births and used alone in DDATA/DCMD. Rebuilt at every node birth from
// the PLC configs in force, so a config change (new tags) is a rebirth with a fresh table.
import type { PlcConfig, TagConfig } from '../../plc/config/schema.js';
import { tagDataType, type DataTypeCode } from './datatypes.js';

export const REBIRTH_METRIC = 'Node Control/Rebirth';
export const REBIRTH_ALIAS = 1;
export const BDSEQ_METRIC = 'bdSeq';
const FIRST_TAG_ALIAS = 2;

export interface MetricDef {
  device: string;
  tag: TagConfig;
  alias: number;
  datatype: DataTypeCode;
}

export class AliasTable {
  private readonly devices = new Map<
    string,
    { config: PlcConfig; byName: Map<string, MetricDef> }
  >();
  private readonly byAlias = new Map<number, MetricDef>();

  constructor(plcs: readonly PlcConfig[]) {
    let alias = FIRST_TAG_ALIAS;
    for (const plc of plcs) {
      const byName = new Map<string, MetricDef>();
      for (const g of plc.groups)
        for (const tag of g.tags) {
          const def = { device: plc.id, tag, alias: alias++, datatype: tagDataType(tag) };
          byName.set(tag.name, def);
          this.byAlias.set(def.alias, def);
        }
      this.devices.set(plc.id, { config: plc, byName });
    }
  }

  has(device: string): boolean {
    return this.devices.has(device);
  }

  deviceIds(): string[] {
    return [...this.devices.keys()];
  }

  /** Every metric of a device, in config order. */
  metrics(device: string): MetricDef[] {
    return [...(this.devices.get(device)?.byName.values() ?? [])];
  }

  byTag(device: string, name: string): MetricDef | undefined {
    return this.devices.get(device)?.byName.get(name);
  }

  /** A device's metric by alias (an alias of another device does not count). */
  byDeviceAlias(device: string, alias: number): MetricDef | undefined {
    const d = this.byAlias.get(alias);
    return d?.device === device ? d : undefined;
  }
}
