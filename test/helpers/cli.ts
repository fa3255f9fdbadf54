// Run the real CLI from source in a child process (so kill -9 is a real crash, not a function call).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join, dirname } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI_ENTRY = join(ROOT, 'agent', 'cli', 'main.ts');

export function spawnCli(
  args: string[],
  opts: SpawnOptions & {
    env?: NodeJS.ProcessEnv;
    /** Test modules to load first (`--import`), e.g. test/ota/fixtures/hold-phase.ts. */
    preload?: string[];
  } = {},
): ChildProcess {
  const preload = (opts.preload ?? []).flatMap((m) => ['--import', pathToFileURL(m).href]);
  return spawn(process.execPath, ['--import', 'tsx', ...preload, CLI_ENTRY, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...opts,
    env: { LOG_JSON: '1', ...process.env, ...opts.env },
  });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export async function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  const child = spawnCli(args, { env: opts.env, cwd: opts.cwd ?? ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (c, s) => resolve([c, s])),
  );
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}

/** Wait until the child's stdout/stderr matches re, or reject after timeoutMs. */
export function waitForOutput(
  child: ChildProcess,
  re: RegExp,
  timeoutMs = 15_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        cleanup();
        resolve(m[0]);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timeout waiting for ${re} in output:\n${buf.slice(-4000)}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}
