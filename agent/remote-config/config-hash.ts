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
  const keys = Object.keys(o).filter((k) => {
    const x = o[k];
    return x !== undefined && typeof x !== 'function' && typeof x !== 'symbol';
  });
  if (keys.every((k) => o[k] === null || typeof o[k] !== 'object')) {
    // A leaf such as one tag: one string, remembered in case the same object comes again.
    const s = JSON.stringify(o);
    leaves.set(o, s);
    h.update(s);
    return;
  }
  h.update('{');
  keys.forEach((k, i) => {
    h.update(i ? `,${JSON.stringify(k)}:` : `${JSON.stringify(k)}:`);
    writeJson(h, o[k], leaves);
  });
  h.update('}');
}
