// Waiting in tests: poll a condition against a deadline (what a peer received, a state reached).
export async function waitFor(
  cond: () => boolean,
  timeoutMs: number,
  what: string | (() => string) = 'a condition',
  stepMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`,
      );
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Poll `fn` against a deadline until it returns a value (not undefined/false/null/0/''), and return it.
 * `what` may be a function, to describe the state at the time of the timeout.
 */
export async function waitForValue<T>(
  what: string | (() => string),
  fn: () => T | undefined | false | null,
  timeoutMs = 30_000,
  stepMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`,
      );
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** waitFor with an asynchronous check (an HTTP API, a file): sample, test, sleep, until the deadline. */
export async function waitForAsync(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what = 'a condition',
  stepMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
