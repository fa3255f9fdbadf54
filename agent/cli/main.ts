// The wms-gateway command line (CONTRACT.md §1). Each command lives in its own module and registers itself here.
import { Command, CommanderError } from 'commander';
import { isConfigError, formatIssues } from '../../platform/config-error.js';
import { isUsageError } from '../../platform/usage-error.js';
import { VERSION } from '../../platform/version.js';
import { registerRunCommand } from './run-command.js';
import { registerConfigCommand } from './config-command.js';
import { registerSimulateCommand } from './simulate-command.js';
import { registerDiagnoseCommand } from './diagnose-command.js';
import { registerBackupCommand } from './backup-command.js';
import { registerLogsCommand } from './logs-command.js';
import { registerOtaCommand } from './ota-command.js';
import { registerRolloutCommand } from './rollout-command.js';

export function buildProgram(): Command {
  const program = new Command('wms-gateway')
    .description('Industrial edge gateway: Modbus PLCs to a cloud WMS over MQTT')
    .version(VERSION)
    .showHelpAfterError(false)
    .exitOverride();
  registerRunCommand(program);
  registerConfigCommand(program);
  registerSimulateCommand(program);
  registerDiagnoseCommand(program);
  registerBackupCommand(program);
  registerLogsCommand(program);
  registerOtaCommand(program);
  registerRolloutCommand(program);
  // Commands of other parts register here: ota, rollout, backup, diagnose, logs.
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === 'commander.helpDisplayed' ||
        e.code === 'commander.version' ||
        e.code === 'commander.help'
      )
        process.exit(0);
      process.exit(2); // commander already printed the one-line error
    }
    if (isConfigError(e)) {
      process.stderr.write(`${e.source}:\n${formatIssues(e.issues)}\n`);
      process.exit(2);
    }
    if (isUsageError(e)) {
      process.stderr.write(`wms-gateway: ${e.message}\n`);
      process.exit(e.exitCode);
    }
    process.stderr.write(`wms-gateway: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  }
}

await main();
