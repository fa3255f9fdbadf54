// Renders docs/configuration.md's reference tables from the zod schema, so the docs cannot drift from
// what validation accepts. `npm run docs:config` rewrites the file; a test fails when it is stale.
import { z } from 'zod';
import { configSchema } from './schema.js';

interface Row {
  path: string;
  type: string;
  def: string;
  text: string;
}

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  required?: string[];
  minimum?: number;
  maximum?: number;
};

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(typeOf).join(' \\| ');
  const t = Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
  if (t === 'array' && s.items)
    return `list of ${s.items.properties ? 'objects' : typeOf(s.items)}`;
  const max = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : '';
  const range = s.minimum !== undefined || max !== '' ? ` (${s.minimum ?? ''}..${max})` : '';
  return t + range;
}

function walk(s: JsonSchema, path: string, rows: Row[]): void {
  const alts = s.anyOf ?? s.oneOf;
  if (alts && alts.every((a) => a.properties)) {
    for (const a of alts) walk(a, path, rows);
    return;
  }
  if (s.properties) {
    for (const [k, v] of Object.entries(s.properties)) {
      const p = path ? `${path}.${k}` : k;
      const row: Row = {
        path: p,
        type: typeOf(v),
        def:
          v.default === undefined
            ? s.required?.includes(k)
              ? 'required'
              : '—'
            : JSON.stringify(v.default),
        text: (v.description ?? '').replace(/\|/g, '\\|'),
      };
      if (!rows.some((r) => r.path === p)) rows.push(row);
      walk(v, p, rows);
    }
  } else if (s.items) {
    walk(s.items, `${path}[]`, rows);
  }
}

export function renderConfigReference(): string {
  const js = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows: Row[] = [];
  walk(js, '', rows);
  const lines = ['| field | type | default | meaning |', '|---|---|---|---|'];
  for (const r of rows)
    lines.push(
      `| \`${r.path}\` | ${r.type} | ${r.def === '—' ? '—' : `\`${r.def}\``} | ${r.text} |`,
    );
  return lines.join('\n');
}
