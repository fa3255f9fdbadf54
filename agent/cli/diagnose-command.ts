// `wms-gateway diagnose [--json]`: the health suite with recommendations; exit 0 healthy, 1 degraded, 2 failing.
import type { Command } from 'commander';

export function registerDiagnoseCommand(program: Command): void {
  program
    .command('diagnose')
    .description(
      'check resources, PLC links, the broker, clock, outbox, OTA slots and recent log errors; exit 0 healthy, 1 degraded, 2 failing',
    )
    .option('--json', 'print the report as JSON')
    .option('--config <file>', 'config file (default $DATA_DIR/gateway.yaml)')
    .option('--data-dir <dir>', 'persistent state directory (default ./data, /data under balena)')
    .option('--time-url <url>', 'compare the clock with the Date header of this HTTP(S) URL')
    .action(
      async (opts: { json?: boolean; config?: string; dataDir?: string; timeUrl?: string }) => {
        const { runDiagnostics, formatReport } = await import('../diagnostics/run-diagnostics.js');
        const report = await runDiagnostics({
          configPath: opts.config,
          dataDir: opts.dataDir,
          timeUrl: opts.timeUrl,
        });
        const text = opts.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report);
        // Exit explicitly: a half-closed PLC or broker socket must not keep the command alive.
        await new Promise<void>((resolve) => process.stdout.write(text, () => resolve()));
        process.exit(report.exitCode);
      },
    );
}
