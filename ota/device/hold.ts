// A seam for power-cut tests (like Mender's state scripts): called right after each OTA phase is
// persisted. In the product nothing sets a hook, so this returns at once and reads no environment;
// the test harness preloads test/ota/fixtures/hold-phase.ts, which sets one that stops the process in
// the phases named by WMS_GATEWAY_OTA_HOLD so the test can kill -9 it there.
export type PhaseHook = (phase: string) => Promise<void>;

let hook: PhaseHook | undefined;

/** Tests only (test/ota/fixtures/hold-phase.ts). */
export function setPhaseHook(h: PhaseHook | undefined): void {
  hook = h;
}

export async function holdIfAsked(phase: string): Promise<void> {
  if (hook) await hook(phase);
}
