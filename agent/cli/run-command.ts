// `wms-gateway run`: the agent. Wiring lives in agent/runtime/gateway.ts.
import type { Command } from 'commander';

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the agent (PLC polling, WMS link, OTA, maintenance, health, HTTP)')
    .option('--config <file>', 'config file (default $DATA_DIR/gateway.yaml)')
    .option('--data-dir <dir>', 'persistent state directory (default ./data, /data under balena)')
    .action(async (opts: { config?: string; dataDir?: string }) => {
      const { runAgent } = await import('../runtime/run-agent.js');
      await runAgent({ configPath: opts.config, dataDir: opts.dataDir });
    });
}
