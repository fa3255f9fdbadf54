// `wms-gateway config check FILE`: every error as `path.to.field: what is wrong`, exit 2; exit 0 when valid.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { UsageError } from '../../platform/usage-error.js';
import { parseConfigText, validateConfig } from '../config/validate.js';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('configuration tools');
  config
    .command('check')
    .description('validate a config file (YAML or JSON); exit 0 valid, 2 with every error')
    .argument('<file>', 'config file')
    .action((file: string) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new UsageError(
          `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        );
      }
      const cfg = validateConfig(parseConfigText(text, file), file);
      const tags = cfg.plcs.reduce(
        (n, p) => n + p.groups.reduce((m, g) => m + g.tags.length, 0),
        0,
      );
      process.stdout.write(`${file}: valid (${cfg.plcs.length} PLCs, ${tags} tags)\n`);
    });
}
