// Placeholder replaced by the simulator.
export async function runSimulatorCli(_opts: {
  port: string;
  host: string;
  map?: string;
}): Promise<void> {
  throw new Error('not implemented yet');
}
