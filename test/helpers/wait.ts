// Waiting in tests: poll a condition against a deadline (what a peer received, a state reached).
export async function waitFor(
  cond: () => boolean,
  timeoutMs: number,
  what = 'a condition',
  stepMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
