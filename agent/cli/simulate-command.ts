// `wms-gateway simulate`: a standalone Modbus TCP PLC simulator whose registers move.
import type { Command } from 'commander';

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('run a Modbus TCP PLC simulator (counters, sine floats, toggling coils)')
    .option('--port <n>', 'TCP port', '5020')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--map <file>', 'register map (YAML/JSON); default: the demo map')
    .action(async (opts: { port: string; host: string; map?: string }) => {
      const { runSimulatorCli } = await import('../../plc/simulator/cli.js');
      await runSimulatorCli(opts);
    });
}
