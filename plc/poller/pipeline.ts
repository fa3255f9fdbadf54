// TCP pipelining of one poll cycle: reads go out `depth` at a time (Modbus TCP transaction ids keep
// their answers apart); the cycle takes the answers in block order.
export function readPipelined<B, R>(
  blocks: readonly B[],
  depth: number,
  read: (b: B) => Promise<R>,
): Promise<R>[] {
  const out: Promise<R>[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i]!;
    // Each finished read (either way) lets the next one go out.
    const prev = out[i - depth];
    out.push(
      prev
        ? prev.then(
            () => read(block),
            () => read(block),
          )
        : read(block),
    );
  }
  for (const p of out) p.catch(() => undefined); // read in order by the caller; never unhandled
  return out;
}
