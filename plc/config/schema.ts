// PLC section of the gateway config: transports, poll groups and tags (CONTRACT.md §2).
// The schema is the one source of truth: validation, defaults, types and docs/configuration.md come from it.
import { z } from 'zod';

export const TAG_TYPES = [
  'bool',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'float32',
  'float64',
  'string',
  'bit',
] as const;
export const BYTE_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export const AREAS = ['coil', 'discrete', 'holding', 'input'] as const;

export type TagType = (typeof TAG_TYPES)[number];
export type ByteOrder = (typeof BYTE_ORDERS)[number];
export type Area = (typeof AREAS)[number];

/** Registers occupied by one value of each fixed-width type (string: `length`; bool: one bit). */
export const REGISTER_WIDTH: Record<Exclude<TagType, 'string'>, number> = {
  bool: 1,
  bit: 1,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  int64: 4,
  uint64: 4,
  float64: 4,
};

const name = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of letters, digits, _ . -');

export const tagSchema = z
  .strictObject({
    name: name.describe('Tag name, unique within its PLC; the key in `values`'),
    area: z.enum(AREAS).describe('Modbus data area: coil, discrete, holding or input'),
    address: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .describe('Zero-based address of the first register or bit'),
    type: z.enum(TAG_TYPES).describe('Value type'),
    byteOrder: z
      .enum(BYTE_ORDERS)
      .default('ABCD')
      .describe(
        'Byte order of multi-register values (ABCD = big-endian, the Modbus default); BADC/DCBA also swap bytes of 16-bit values and strings',
      ),
    length: z
      .number()
      .int()
      .min(1)
      .max(123)
      .optional()
      .describe('string only: length in registers (2 characters each)'),
    bit: z
      .number()
      .int()
      .min(0)
      .max(15)
      .optional()
      .describe('bit only: bit number inside the register, 0 = least significant'),
    scale: z.number().finite().default(1).describe('value = raw * scale + offset'),
    offset: z.number().finite().default(0).describe('value = raw * scale + offset'),
    deadband: z
      .number()
      .finite()
      .min(0)
      .default(0)
      .describe(
        'Report by exception: publish when the value moves more than this (0 = any change)',
      ),
    writable: z.boolean().default(false).describe('May the WMS write this tag by command'),
    min: z.number().finite().optional().describe('Lowest value a command may write'),
    max: z.number().finite().optional().describe('Highest value a command may write'),
    unit: z.string().max(32).optional().describe('Engineering unit, informational'),
  })
  .superRefine((t, ctx) => {
    const bitArea = t.area === 'coil' || t.area === 'discrete';
    if (bitArea && t.type !== 'bool')
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `must be bool in the ${t.area} area (got ${t.type})`,
      });
    if (!bitArea && t.type === 'bool')
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `bool is for coil/discrete; use type bit with bit: 0..15 inside a ${t.area} register`,
      });
    if (t.type === 'string' && t.length === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['length'],
        message: 'is required for type string (registers)',
      });
    if (t.type !== 'string' && t.length !== undefined)
      ctx.addIssue({ code: 'custom', path: ['length'], message: 'is only for type string' });
    if (t.type === 'bit' && t.bit === undefined)
      ctx.addIssue({ code: 'custom', path: ['bit'], message: 'is required for type bit (0..15)' });
    if (t.type !== 'bit' && t.bit !== undefined)
      ctx.addIssue({ code: 'custom', path: ['bit'], message: 'is only for type bit' });
    if (t.writable && (t.area === 'discrete' || t.area === 'input'))
      ctx.addIssue({
        code: 'custom',
        path: ['writable'],
        message: `${t.area} is a read-only area`,
      });
    if (t.min !== undefined && t.max !== undefined && t.min > t.max)
      ctx.addIssue({ code: 'custom', path: ['min'], message: `must not exceed max (${t.max})` });
    if (
      (t.type === 'string' || t.type === 'bool' || t.type === 'bit') &&
      (t.min !== undefined || t.max !== undefined)
    )
      ctx.addIssue({
        code: 'custom',
        path: [t.min !== undefined ? 'min' : 'max'],
        message: `is only for numeric types (got ${t.type})`,
      });
    const end = t.address + tagWidth(t) - 1;
    if (end > 65535)
      ctx.addIssue({
        code: 'custom',
        path: ['address'],
        message: `tag ends at ${end}, beyond the last address 65535`,
      });
  });

export type TagConfig = z.output<typeof tagSchema>;

/** Number of registers (or bits, for coil/discrete) the tag occupies. */
export function tagWidth(t: { type: TagType; length?: number | undefined }): number {
  return t.type === 'string' ? (t.length ?? 1) : REGISTER_WIDTH[t.type];
}

export const groupSchema = z.strictObject({
  intervalMs: z.number().int().min(10).max(86_400_000).describe('Poll interval of this group'),
  tags: z.array(tagSchema).min(1).describe('Tags read together at this interval'),
});

const reconnectSchema = z
  .strictObject({
    minMs: z.number().int().min(10).default(500).describe('First reconnect delay'),
    maxMs: z.number().int().min(100).default(30_000).describe('Cap of the exponential backoff'),
  })
  .prefault({});

export const tcpTransportSchema = z.strictObject({
  type: z.literal('tcp'),
  host: z.string().min(1, 'is required').describe('PLC host name or IP'),
  port: z.number().int().min(1).max(65535).default(502).describe('Modbus TCP port'),
});

export const rtuTransportSchema = z.strictObject({
  type: z.literal('rtu'),
  path: z.string().min(1, 'is required').describe('Serial device, e.g. /dev/ttyUSB0'),
  baudRate: z.number().int().min(300).max(921_600).default(19_200),
  parity: z.enum(['none', 'even', 'odd']).default('even'),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  interFrameMs: z
    .number()
    .min(0)
    .max(1000)
    .optional()
    .describe(
      'Silence between frames on the bus; default 3.5 character times (min 1.75 ms above 19200 baud)',
    ),
});

export const transportSchema = z.discriminatedUnion('type', [
  tcpTransportSchema,
  rtuTransportSchema,
]);

export const plcSchema = z
  .strictObject({
    id: name.describe('PLC id, unique; used in MQTT topics'),
    transport: transportSchema,
    unitId: z.number().int().min(0).max(255).default(1).describe('Modbus unit (slave) id'),
    timeoutMs: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(1000)
      .describe('Per-request timeout (the same for every PLC behind one host:port)'),
    tcpPipeline: z
      .number()
      .int()
      .min(1)
      .max(16)
      .optional()
      .describe(
        "TCP only: Modbus transactions in flight at once on the connection, shared by every PLC behind the same host:port (default 1; more only if the PLC or gateway accepts several; the same for every PLC on the endpoint). Above 1 the PLC's poll groups also read at once",
      ),
    maxGap: z
      .number()
      .int()
      .min(0)
      .max(120)
      .default(8)
      .describe('Registers of gap the planner may read through to save a request'),
    maxRegistersPerRead: z
      .number()
      .int()
      .min(1)
      .max(125)
      .default(125)
      .describe('Cap of one FC3/FC4 read (some PLCs accept fewer)'),
    maxBitsPerRead: z
      .number()
      .int()
      .min(1)
      .max(2000)
      .default(2000)
      .describe('Cap of one FC1/FC2 read'),
    fullReportSeconds: z
      .number()
      .int()
      .min(0)
      .default(60)
      .describe('Publish every tag this often even unchanged (0 = never)'),
    reconnect: reconnectSchema,
    groups: z.array(groupSchema).min(1),
  })
  .superRefine((p, ctx) => {
    const seen = new Map<string, string>();
    p.groups.forEach((g, gi) =>
      g.tags.forEach((t, ti) => {
        if (seen.has(t.name))
          ctx.addIssue({
            code: 'custom',
            path: ['groups', gi, 'tags', ti, 'name'],
            message: `duplicate tag name "${t.name}" (also at ${seen.get(t.name)})`,
          });
        else seen.set(t.name, `groups.${gi}.tags.${ti}`);
      }),
    );
    p.groups.forEach((g, gi) =>
      g.tags.forEach((t, ti) => {
        const bits = t.area === 'coil' || t.area === 'discrete';
        if (!bits && tagWidth(t) > p.maxRegistersPerRead)
          ctx.addIssue({
            code: 'custom',
            path: ['groups', gi, 'tags', ti, t.type === 'string' ? 'length' : 'type'],
            message: `needs ${tagWidth(t)} registers, more than maxRegistersPerRead (${p.maxRegistersPerRead})`,
          });
      }),
    );
    const writable = p.groups.flatMap((g, gi) =>
      g.tags
        .map((t, ti) => ({ t, path: ['groups', gi, 'tags', ti] as (string | number)[] }))
        .filter((x) => x.t.writable),
    );
    for (let i = 0; i < writable.length; i++)
      for (let j = 0; j < i; j++) {
        const a = writable[i]!.t;
        const b = writable[j]!.t;
        if (a.area !== b.area) continue;
        const overlap =
          a.address <= b.address + tagWidth(b) - 1 && b.address <= a.address + tagWidth(a) - 1;
        const distinctBits = a.type === 'bit' && b.type === 'bit' && a.bit !== b.bit;
        if (overlap && !distinctBits)
          ctx.addIssue({
            code: 'custom',
            path: [...writable[i]!.path, 'address'],
            message: `writable tag "${a.name}" overlaps writable tag "${b.name}" (${b.area} ${b.address})`,
          });
      }
  });

export type PlcConfig = z.output<typeof plcSchema>;
export type TransportConfig = z.output<typeof transportSchema>;
export type GroupConfig = z.output<typeof groupSchema>;

export const plcsSchema = z
  .array(plcSchema)
  .default([])
  .superRefine((plcs, ctx) => {
    const ids = new Set<string>();
    const buses = new Map<string, { i: number; unitIds: Set<number>; key: string }>();
    const endpoints = new Map<string, number>();
    plcs.forEach((p, i) => {
      if (ids.has(p.id))
        ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate PLC id "${p.id}"` });
      ids.add(p.id);
      if (p.transport.type === 'tcp') {
        // PLCs behind one host:port share one connection: its timeout and pipeline must agree.
        const ep = `${p.transport.host.toLowerCase()}:${p.transport.port}`;
        const first = endpoints.get(ep);
        if (first === undefined) return void endpoints.set(ep, i);
        const o = plcs[first]!;
        const clash = (field: 'timeoutMs' | 'tcpPipeline', a: unknown, b: unknown) =>
          ctx.addIssue({
            code: 'custom',
            path: [i, field],
            message: `PLC "${p.id}" shares the connection to ${ep} with PLC "${o.id}" (plcs.${first}) but its ${field} ${String(a)} differs from ${String(b)}: PLCs on one endpoint need the same ${field}`,
          });
        if (p.timeoutMs !== o.timeoutMs) clash('timeoutMs', p.timeoutMs, o.timeoutMs);
        if ((p.tcpPipeline ?? 1) !== (o.tcpPipeline ?? 1))
          clash('tcpPipeline', p.tcpPipeline ?? 1, o.tcpPipeline ?? 1);
        return;
      }
      const t = p.transport;
      const key = `${t.baudRate}/${t.parity}/${t.dataBits}/${t.stopBits}`;
      const bus = buses.get(t.path);
      if (!bus) return void buses.set(t.path, { i, unitIds: new Set([p.unitId]), key });
      if (bus.key !== key)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'transport'],
          message: `serial settings differ from plcs.${bus.i} on the same bus ${t.path}`,
        });
      if (bus.unitIds.has(p.unitId))
        ctx.addIssue({
          code: 'custom',
          path: [i, 'unitId'],
          message: `unit id ${p.unitId} is already used on bus ${t.path}`,
        });
      bus.unitIds.add(p.unitId);
    });
  });
