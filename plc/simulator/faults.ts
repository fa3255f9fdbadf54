// Fault injection: make the simulator misbehave on purpose for matching requests (tests, demos).
import { z } from 'zod';
import { AREAS, type Area } from '../config/schema.js';

export const FAULT_ACTIONS = ['exception', 'delay', 'silence', 'short', 'drop'] as const;

export const faultSchema = z
  .strictObject({
    unit: z.number().int().min(0).max(255).optional().describe('Only this unit id (default any)'),
    area: z.enum(AREAS).optional().describe('Only requests on this area (default any)'),
    fc: z.number().int().min(1).max(127).optional().describe('Only this function code'),
    from: z.number().int().min(0).max(65535).default(0).describe('First address of the range'),
    to: z.number().int().min(0).max(65535).default(65535).describe('Last address of the range'),
    action: z
      .enum(FAULT_ACTIONS)
      .describe(
        'exception: answer code; delay: answer after ms; silence: never answer; short: truncated frame; drop: close the connection',
      ),
    code: z
      .number()
      .int()
      .min(1)
      .max(255)
      .default(4)
      .describe('exception only: Modbus exception code'),
    ms: z.number().int().min(0).max(600_000).default(0).describe('delay only: milliseconds'),
    times: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Apply this many times, then expire (default forever)'),
  })
  .refine((f) => f.from <= f.to, { path: ['to'], message: 'must be >= from' });

export type FaultInput = z.input<typeof faultSchema>;
export type Fault = z.output<typeof faultSchema>;

/** Area a function code reads or writes. */
export function areaOfFc(fc: number): Area | undefined {
  switch (fc) {
    case 1:
    case 5:
    case 15:
      return 'coil';
    case 2:
      return 'discrete';
    case 3:
    case 6:
    case 16:
      return 'holding';
    case 4:
      return 'input';
    default:
      return undefined;
  }
}

export class FaultSet {
  private readonly faults = new Map<number, Fault>();
  private nextId = 1;

  get size(): number {
    return this.faults.size;
  }

  add(input: FaultInput): number {
    const id = this.nextId++;
    this.faults.set(id, faultSchema.parse(input));
    return id;
  }

  remove(id: number): void {
    this.faults.delete(id);
  }

  clear(): void {
    this.faults.clear();
  }

  /** The first fault matching a request, consuming one of its `times`. */
  match(unit: number, fc: number, address: number, count: number): Fault | undefined {
    if (this.faults.size === 0) return undefined;
    const area = areaOfFc(fc);
    const last = address + Math.max(count, 1) - 1;
    for (const [id, f] of this.faults) {
      if (f.unit !== undefined && f.unit !== unit) continue;
      if (f.fc !== undefined && f.fc !== fc) continue;
      if (f.area !== undefined && f.area !== area) continue;
      if (last < f.from || address > f.to) continue;
      if (f.times !== undefined && --f.times <= 0) this.faults.delete(id);
      return f;
    }
    return undefined;
  }
}
