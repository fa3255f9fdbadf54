// Parses config text (YAML 1.2, a superset of JSON) straight into the JS value, without a syntax tree.
// Why js-yaml and not `yaml`: `yaml` builds a CST and a Document first; for a 1 MiB config (100k tags)
// that peaks at 76 MB of live heap, more than the agent's whole 96 MB old space (docs/PERFORMANCE.md).
// js-yaml builds the value directly (+5 MB, ~15× faster). It keeps an alias as a shared reference,
// so everything that walks the value later (zod, JSON.stringify) expands it: the expansion bound below
// is what stops a "billion laughs" document, which `yaml` did with maxAliasCount.
import { dump, load, CORE_SCHEMA, YAMLException } from 'js-yaml';

/** Values (scalars, lists, mappings) the document may hold once every alias is expanded. */
export const MAX_CONFIG_VALUES = 2_000_000;

/** A document that is not YAML, or whose aliases expand beyond the bound; `path` names the field. */
export class ConfigSyntaxError extends Error {
  constructor(
    message: string,
    readonly path = '',
  ) {
    super(message);
    this.name = 'ConfigSyntaxError';
  }
}

export function isConfigSyntaxError(e: unknown): e is ConfigSyntaxError {
  return e instanceof ConfigSyntaxError;
}

/**
 * Parse YAML/JSON text. The core schema only (null, bool, int, float, str, seq, map): no timestamps,
 * no `<<` merge keys, no custom tags — as the `yaml` package's default did. Throws ConfigSyntaxError
 * naming the line and column, or the field whose aliases expand too far (or refer to themselves).
 */
export function parseYamlValue(text: string, maxValues = MAX_CONFIG_VALUES): unknown {
  let value: unknown;
  try {
    value = load(text, { schema: CORE_SCHEMA });
  } catch (e) {
    if (e instanceof YAMLException)
      throw new ConfigSyntaxError(
        `not valid YAML/JSON: line ${e.mark.line + 1}, column ${e.mark.column + 1}: ${e.reason}`,
      );
    // A RangeError (nesting deeper than the stack) is a bad document too, not a crash.
    throw new ConfigSyntaxError(
      `not valid YAML/JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  checkExpansion(value, maxValues);
  return value;
}

/**
 * Count the values the document holds with every alias expanded, without expanding it: a shared
 * list or mapping is sized once and its size is added at each place it is used. A cycle (an alias
 * inside its own anchor) is refused: nothing downstream can walk it.
 */
function checkExpansion(root: unknown, max: number): void {
  const sizes = new Map<object, number>();
  const open = new Set<object>();
  const at: string[] = []; // the path being walked, joined only for an error
  const size = (v: unknown): number => {
    if (v === null || typeof v !== 'object') return 1;
    const known = sizes.get(v);
    if (known !== undefined) return known;
    if (open.has(v))
      throw new ConfigSyntaxError('an alias refers to the value that contains it', at.join('.'));
    open.add(v);
    let n = 1;
    const add = (k: string, x: unknown) => {
      at.push(k);
      n += size(x);
      if (n > max)
        throw new ConfigSyntaxError(
          `expands to more than ${max} values through aliases (anchors used too often or nested)`,
          at.slice(0, -1).join('.'),
        );
      at.pop();
    };
    if (Array.isArray(v)) v.forEach((x, i) => add(String(i), x));
    else for (const k of Object.keys(v)) add(k, (v as Record<string, unknown>)[k]);
    open.delete(v);
    sizes.set(v, n);
    return n;
  };
  size(root);
}

/**
 * A config document as YAML text that parseYamlValue reads back to the same value, within `maxBytes`
 * when it can be: block style (easiest to read) if it fits, else each innermost mapping on one line
 * (a tag per line), else flow style throughout. A list shared by several PLCs stays written once
 * (an anchor and aliases). Why it matters: a remote config of 100k tags arrives as ≤ 1 MiB of flow
 * YAML; written back in block style it is 1.25 MB, over the limit the agent reads it back with.
 */
export function configToText(doc: unknown, maxBytes: number): string {
  const depth = nestingDepth(doc);
  let text = '';
  for (const flowLevel of [-1, depth - 1, 0]) {
    text = dump(doc, { schema: CORE_SCHEMA, flowLevel, lineWidth: -1 });
    if (Buffer.byteLength(text) <= maxBytes) break;
  }
  return text;
}

/** How deep lists and mappings nest (a scalar 0, `{a: 1}` 1); a shared value is measured once. */
function nestingDepth(v: unknown, seen = new Map<object, number>()): number {
  if (v === null || typeof v !== 'object') return 0;
  const known = seen.get(v);
  if (known !== undefined) return known;
  seen.set(v, 1); // a cycle (refused by parseYamlValue anyway) ends here
  let max = 0;
  for (const x of Array.isArray(v) ? v : Object.values(v))
    max = Math.max(max, nestingDepth(x, seen));
  seen.set(v, max + 1);
  return max + 1;
}
