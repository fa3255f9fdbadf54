// The sha256 of the local config in force (config/state, status `local`): the hex SHA-256 of
// JSON.stringify(config), as before, but fed to the hash in pieces. At 100k configured tags the
// one-string form is a 13 MB string in V8's large-object space (old generation) at start-up; here
// the largest piece is one tag, and a tag object shared by several PLCs (a YAML alias, kept shared
// by validateConfig) is serialised once.
import { createHash, type Hash } from 'node:crypto';

export function configSha256(config: unknown): string {
  const h = createHash('sha256');
  writeJson(h, config, new WeakMap());
  return h.digest('hex');
}

/** Writes exactly what JSON.stringify(v) would give (for plain data: no toJSON but Date's). */
function writeJson(h: Hash, v: unknown, leaves: WeakMap<object, string>): void {
  if (
    v === null ||
    typeof v !== 'object' ||
    typeof (v as { toJSON?: unknown }).toJSON === 'function'
  ) {
    h.update(JSON.stringify(v) ?? 'null');
    return;
  }
  const known = leaves.get(v);
  if (known !== undefined) return void h.update(known);
  if (Array.isArray(v)) {
    if (v.every(isLeaf)) {
      // A list of leaves, such as one group's tags: one string, written again wherever the same list
      // comes back (8 PLCs sharing a 12,500-tag list: one 1.6 MB string, hashed 8 times).
      const s = JSON.stringify(v);
      leaves.set(v, s);
      h.update(s);
      return;
    }
    h.update('[');
    v.forEach((x, i) => {
      if (i) h.update(',');
      // JSON.stringify writes null for what it cannot represent inside an array.
      writeJson(
        h,
        x === undefined || typeof x === 'function' || typeof x === 'symbol' ? null : x,
        leaves,
      );
    });
    h.update(']');
    return;
  }
  const o = v as Record<string, unknown>;
  if (isLeaf(o)) {
    // A leaf such as one tag: one string, remembered in case the same object comes again.
    const s = JSON.stringify(o);
    leaves.set(o, s);
    h.update(s);
    return;
  }
  const keys = Object.keys(o).filter((k) => {
    const x = o[k];
    return x !== undefined && typeof x !== 'function' && typeof x !== 'symbol';
  });
  h.update('{');
  keys.forEach((k, i) => {
    h.update(i ? `,${JSON.stringify(k)}:` : `${JSON.stringify(k)}:`);
    writeJson(h, o[k], leaves);
  });
  h.update('}');
}

/** A value whose JSON has no nested list or mapping (a primitive, or a mapping of primitives). */
function isLeaf(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) return false;
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== null && typeof x === 'object') return false;
  }
  return true;
}
