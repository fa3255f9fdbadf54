// The Modbus API of one PLC: a link (TCP connection or shared RTU bus) plus its unit id and timeout.
import type { Area } from '../config/schema.js';
import type { ModbusLink, ModbusRequest, SendStamp } from './modbus-link.js';
import type { Priority } from './serial-queue.js';

/** Protocol limits per request (Modbus Application Protocol v1.1b3 §6). */
export const MAX_READ_REGISTERS = 125;
export const MAX_READ_BITS = 2000;
export const MAX_WRITE_REGISTERS = 123;
export const MAX_WRITE_COILS = 1968;

export const READ_FC: Record<Area, 1 | 2 | 3 | 4> = { coil: 1, discrete: 2, holding: 3, input: 4 };

export interface ModbusClientOptions {
  unitId: number;
  timeoutMs: number;
}

export class ModbusClient {
  constructor(
    readonly link: ModbusLink,
    readonly opts: ModbusClientOptions,
  ) {}

  private exec(req: ModbusRequest, priority?: Priority, stamp?: SendStamp) {
    return this.link.exec(this.opts.unitId, req, this.opts.timeoutMs, priority, stamp);
  }

  /** `stamp`: set to the moment the first request carrying it went out (see SendStamp). */
  async readBits(
    area: 'coil' | 'discrete',
    address: number,
    count: number,
    priority?: Priority,
    stamp?: SendStamp,
  ) {
    return (await this.exec(
      { fc: READ_FC[area] as 1 | 2, address, count },
      priority,
      stamp,
    )) as boolean[];
  }

  async readRegisters(
    area: 'holding' | 'input',
    address: number,
    count: number,
    priority?: Priority,
    stamp?: SendStamp,
  ) {
    return (await this.exec(
      { fc: READ_FC[area] as 3 | 4, address, count },
      priority,
      stamp,
    )) as number[];
  }

  readCoils(address: number, count: number, priority?: Priority) {
    return this.readBits('coil', address, count, priority);
  }
  readDiscreteInputs(address: number, count: number, priority?: Priority) {
    return this.readBits('discrete', address, count, priority);
  }
  readHoldingRegisters(address: number, count: number, priority?: Priority) {
    return this.readRegisters('holding', address, count, priority);
  }
  readInputRegisters(address: number, count: number, priority?: Priority) {
    return this.readRegisters('input', address, count, priority);
  }

  async writeCoil(address: number, value: boolean, priority?: Priority): Promise<void> {
    await this.exec({ fc: 5, address, value }, priority);
  }
  async writeCoils(address: number, values: boolean[], priority?: Priority): Promise<void> {
    await this.exec({ fc: 15, address, values }, priority);
  }
  async writeRegister(address: number, value: number, priority?: Priority): Promise<void> {
    await this.exec({ fc: 6, address, value }, priority);
  }
  async writeRegisters(address: number, values: number[], priority?: Priority): Promise<void> {
    await this.exec({ fc: 16, address, values }, priority);
  }
}
