// Typed planner errors: a tag set that cannot be read within the limits (a config problem, found at start).
export class PlanError extends Error {
  constructor(
    readonly tag: string | undefined,
    detail: string,
  ) {
    super(tag === undefined ? detail : `tag "${tag}": ${detail}`);
    this.name = 'PlanError';
  }
}

export function isPlanError(e: unknown): e is PlanError {
  return e instanceof PlanError;
}
