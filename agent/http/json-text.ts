// JSON for HTTP answers and events: a 64-bit value handed over as bigint becomes its decimal text
// instead of making JSON.stringify throw.
export function jsonText(v: unknown): string {
  return JSON.stringify(v ?? null, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}
