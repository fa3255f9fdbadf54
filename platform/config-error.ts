// Typed config errors: callers branch on isConfigError(e), never on message text.
export interface ConfigIssue {
  /** Dotted path of the offending field, e.g. plcs.0.groups.1.tags.2.byteOrder ('' for the whole document). */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly issues: ConfigIssue[],
    readonly source: string,
  ) {
    super(`${source}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

export function isConfigError(e: unknown): e is ConfigError {
  return e instanceof ConfigError;
}

export function formatIssues(issues: ConfigIssue[]): string {
  return issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('\n');
}
