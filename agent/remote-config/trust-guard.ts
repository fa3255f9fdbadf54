// Remote configuration never changes who may sign (CONTRACT.md §6): a config/set whose keys or roots differ
// from the ones in force, in any field, is refused `trust-change-needs-root`. Two checks: the trust-bearing
// sections themselves, and every JWK-looking object anywhere in the document (so a key cannot come in
// through a field added later, or through one that is not meant to hold keys).
import { isDeepStrictEqual } from 'node:util';
import type { GatewayConfig } from '../config/schema.js';
import { RejectedError } from '../commands/rejection.js';

/** Objects with a `kty` member anywhere in v, as canonical JSON (sorted keys), with their paths. */
function jwksIn(v: unknown, path: string, out: Map<string, string>, depth = 0): void {
  if (depth > 32 || typeof v !== 'object' || v === null) return;
  if (Array.isArray(v)) {
    v.forEach((x, i) => jwksIn(x, `${path}.${i}`, out, depth + 1));
    return;
  }
  if (Object.hasOwn(v, 'kty')) {
    out.set(canonical(v), path.slice(1));
    return;
  }
  for (const [k, x] of Object.entries(v)) jwksIn(x, `${path}.${k}`, out, depth + 1);
}

function canonical(v: unknown): string {
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

/** Throws RejectedError('trust-change-needs-root') naming the first field that differs. */
export function assertNoTrustChange(current: GatewayConfig, next: GatewayConfig): void {
  const fields: [string, unknown, unknown][] = [
    ['commands.keys', current.commands.keys, next.commands.keys],
    ['ota.keys', current.ota.keys, next.ota.keys],
    ['trust', current.trust, next.trust],
  ];
  for (const [field, a, b] of fields)
    if (!isDeepStrictEqual(a, b))
      throw new RejectedError(
        'trust-change-needs-root',
        field,
        'keys and roots change only through a trust policy signed by the roots, or the local file',
      );
  const before = new Map<string, string>();
  const after = new Map<string, string>();
  jwksIn(current, '', before);
  jwksIn(next, '', after);
  for (const [key, path] of after)
    if (!before.has(key))
      throw new RejectedError(
        'trust-change-needs-root',
        path,
        'a key that is not in force appears in the config',
      );
  for (const [key, path] of before)
    if (!after.has(key))
      throw new RejectedError('trust-change-needs-root', path, 'a key in force is removed');
}
