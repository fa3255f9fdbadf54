// The simulator's register map (YAML or JSON; format in docs/plc.md): unit ids, moving values, faults.
// Each entry is a tag as in the gateway config (same schema, same codec) plus one generator.
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { tagSchema, tagWidth, type TagConfig } from '../config/schema.js';
import { faultSchema } from './faults.js';

const everyMs = z.number().int().min(1).max(86_400_000);

export const generatorSchemas = {
  value: z.union([z.number(), z.boolean(), z.string()]).describe('constant value'),
  counter: z
    .strictObject({
      start: z.number().default(0),
      step: z.number().default(1),
      everyMs: everyMs.default(1000),
      max: z
        .number()
        .optional()
        .describe('wrap back to start after this (default: the type maximum)'),
    })
    .describe('counts up by step every everyMs'),
  sine: z
    .strictObject({
      amplitude: z.number().default(1),
      periodMs: z.number().int().min(10).default(10_000),
      offset: z.number().default(0),
    })
    .describe('offset + amplitude * sin(2π t / periodMs)'),
  toggle: z
    .strictObject({ everyMs: everyMs.default(1000) })
    .describe('flips a bool/bit every everyMs'),
  random: z
    .strictObject({
      min: z.number().default(0),
      max: z.number().default(100),
      everyMs: everyMs.default(1000),
      integer: z.boolean().default(false),
    })
    .describe('a new random value in [min, max] every everyMs'),
} as const;
export type GeneratorKind = keyof typeof generatorSchemas;
const GENERATOR_KINDS = Object.keys(generatorSchemas) as GeneratorKind[];

export type Generator =
  | { kind: 'value'; value: number | boolean | string }
  | { kind: 'counter'; start: number; step: number; everyMs: number; max?: number | undefined }
  | { kind: 'sine'; amplitude: number; periodMs: number; offset: number }
  | { kind: 'toggle'; everyMs: number }
  | { kind: 'random'; min: number; max: number; everyMs: number; integer: boolean };

export interface MapEntry {
  tag: TagConfig;
  gen: Generator;
}

export interface UnitMap {
  id: number;
  sizes: { coil?: number; discrete?: number; holding?: number; input?: number };
  entries: MapEntry[];
}

export interface SimulatorMap {
  tickMs: number;
  units: UnitMap[];
  faults: z.output<typeof faultSchema>[];
}

export const DEFAULT_TICK_MS = 100;
const size = z.number().int().min(1).max(65_536);

const unitSchema = z.strictObject({
  id: z.number().int().min(0).max(255).describe('Modbus unit id served'),
  sizes: z
    .strictObject({
      coil: size.optional(),
      discrete: size.optional(),
      holding: size.optional(),
      input: size.optional(),
    })
    .default({})
    .describe('Addresses served per area (beyond: illegal-data-address); default 65536'),
  registers: z.array(z.record(z.string(), z.unknown())).default([]),
});

const mapSchema = z.strictObject({
  tickMs: z
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(DEFAULT_TICK_MS)
    .describe('How often moving values update'),
  units: z.array(unitSchema).min(1),
  faults: z.array(faultSchema).default([]),
});

/** A map problem: `path` names the field (units.0.registers.3.type). */
export class SimulatorMapError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
  ) {
    super(`${path || '(root)'}: ${detail}`);
    this.name = 'SimulatorMapError';
  }
}
export function isSimulatorMapError(e: unknown): e is SimulatorMapError {
  return e instanceof SimulatorMapError;
}

function firstIssue(err: z.ZodError, prefix: (string | number)[]): SimulatorMapError {
  const i = err.issues[0]!;
  const path = [...prefix, ...i.path].map(String).join('.');
  if (i.code === 'unrecognized_keys')
    return new SimulatorMapError([path, i.keys[0]].filter(Boolean).join('.'), 'unknown field');
  const missing = i.code === 'invalid_type' && i.input === undefined;
  return new SimulatorMapError(path, missing ? 'is required' : i.message);
}

const NUMERIC = new Set([
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'float32',
  'float64',
]);

function parseEntry(raw: Record<string, unknown>, unit: number, at: (string | number)[]): MapEntry {
  const present = GENERATOR_KINDS.filter((k) => k in raw);
  if (present.length !== 1)
    throw new SimulatorMapError(
      at.join('.'),
      `needs exactly one of ${GENERATOR_KINDS.join(', ')} (got ${present.length})`,
    );
  const kind = present[0]!;
  const { [kind]: genRaw, ...tagRaw } = raw;
  const name =
    typeof tagRaw.name === 'string'
      ? tagRaw.name
      : `u${unit}.${String(tagRaw.area)}.${String(tagRaw.address)}`;
  const tag = tagSchema.safeParse({ ...tagRaw, name });
  if (!tag.success) throw firstIssue(tag.error, at);
  const g = generatorSchemas[kind].safeParse(genRaw);
  if (!g.success) throw firstIssue(g.error, [...at, kind]);
  const t = tag.data;
  const boolish = t.type === 'bool' || t.type === 'bit';
  const bad = (why: string) => new SimulatorMapError([...at, kind].join('.'), why);
  if (kind === 'toggle' && !boolish) throw bad(`toggle is for bool/bit tags (got ${t.type})`);
  if ((kind === 'counter' || kind === 'sine') && !NUMERIC.has(t.type))
    throw bad(`${kind} is for numeric tags (got ${t.type})`);
  if (kind === 'random' && t.type === 'string') throw bad('random is not for strings');
  const gen = (
    kind === 'value' ? { kind, value: g.data } : { kind, ...(g.data as object) }
  ) as Generator;
  return { tag: t, gen };
}

/** Validate a parsed map document. Throws SimulatorMapError naming the first bad field. */
export function parseSimulatorMap(doc: unknown): SimulatorMap {
  const res = mapSchema.safeParse(doc);
  if (!res.success) throw firstIssue(res.error, []);
  const seen = new Set<number>();
  const units = res.data.units.map((u, ui): UnitMap => {
    if (seen.has(u.id)) throw new SimulatorMapError(`units.${ui}.id`, `duplicate unit id ${u.id}`);
    seen.add(u.id);
    const entries = u.registers.map((r, ri) => parseEntry(r, u.id, ['units', ui, 'registers', ri]));
    entries.forEach((e, ri) => {
      const lim = u.sizes[e.tag.area] ?? 65_536;
      const width = e.tag.area === 'coil' || e.tag.area === 'discrete' ? 1 : tagWidth(e.tag);
      if (e.tag.address + width > lim)
        throw new SimulatorMapError(
          `units.${ui}.registers.${ri}.address`,
          `beyond the ${e.tag.area} size ${lim}`,
        );
    });
    return { id: u.id, sizes: u.sizes, entries };
  });
  return { tickMs: res.data.tickMs, units, faults: res.data.faults };
}

/** Largest map file read (a map of every address of 4 areas × 255 units is far smaller). */
export const MAX_MAP_BYTES = 8 * 1024 * 1024;

/** Read and validate a map file (YAML or JSON). */
export function loadSimulatorMap(file: string): SimulatorMap {
  let text: string;
  try {
    if (statSync(file).size > MAX_MAP_BYTES)
      throw new SimulatorMapError('', `${file} is larger than ${MAX_MAP_BYTES} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (isSimulatorMapError(e)) throw e;
    throw new SimulatorMapError(
      '',
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new SimulatorMapError('', `not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseSimulatorMap(doc);
}
