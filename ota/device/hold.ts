// Fault injection for power-cut tests (like Mender's state scripts): env WMS_GATEWAY_OTA_HOLD=Phase[,Phase]
// makes the process stop right after persisting that phase, so a test can kill -9 it there.
export async function holdIfAsked(phase: string): Promise<void> {
  const wanted = (process.env.WMS_GATEWAY_OTA_HOLD ?? '').split(',');
  if (!wanted.includes(phase)) return;
  process.stderr.write(`ota: holding in ${phase} (WMS_GATEWAY_OTA_HOLD)\n`);
  await new Promise(() => setInterval(() => {}, 60_000));
}
