// zod's validation issues as config issues: one per problem, each with its dotted path, union branches
// and unknown keys spelled out. Used by the agent's whole-config validation and the launcher's `ota:` one.
import type { z } from 'zod';
import type { ConfigIssue } from './config-error.js';

/** Every problem zod found, each with its dotted path. */
export function issuesFromZod(error: z.ZodError): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const i of error.issues) {
    // Unions report each branch; show the branch errors rather than "invalid input".
    if (i.code === 'invalid_union' && 'errors' in i && Array.isArray(i.errors) && i.errors.length) {
      const branch = (i.errors as z.core.$ZodIssue[][]).sort((a, b) => a.length - b.length)[0]!;
      for (const b of branch)
        out.push({ path: [...i.path, ...b.path].map(String).join('.'), message: b.message });
      continue;
    }
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys)
        out.push({ path: [...i.path, k].map(String).join('.'), message: 'unknown field' });
      continue;
    }
    const missing = i.code === 'invalid_type' && i.input === undefined;
    out.push({ path: i.path.map(String).join('.'), message: missing ? 'is required' : i.message });
  }
  return out;
}
