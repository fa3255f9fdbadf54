// Placeholder replaced by the gateway wiring.
export async function runAgent(_opts: {
  configPath?: string | undefined;
  dataDir?: string | undefined;
}): Promise<void> {
  throw new Error('not implemented yet');
}
