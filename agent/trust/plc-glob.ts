// `plcs` scopes are globs over PLC ids: `*` any run of characters, `?` one character, the rest literal.
// Small on purpose: PLC ids have no path separators, so no `**` or classes are needed.

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

export function matchesAny(id: string, globs: readonly string[]): boolean {
  return globs.some((g) => globToRegExp(g).test(id));
}
