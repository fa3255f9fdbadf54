// How the CLI shows the progress of long work: a bar on a terminal (cli-progress), plain lines when
// stderr is a pipe or a log (balena logs, CI), nothing with --progress none. Always on stderr, so
// stdout stays what scripts parse.
import cliProgress from 'cli-progress';
import { Option } from 'commander';
import type { OnProgress, ProgressEvent } from '../../platform/progress.js';

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';
export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'bar', 'lines', 'none'];

/** In `lines` mode, at most one line per phase this often (besides its start and end). */
const LINE_EVERY_MS = 2000;
/** In `auto` mode without a terminal, work shorter than this prints nothing. */
const AUTO_QUIET_MS = 1000;

/** `--progress auto|bar|lines|none` for commands that do long work. */
export function progressOption(): Option {
  return new Option(
    '--progress <mode>',
    'progress on stderr: bar (terminal), lines (logs), none; auto picks bar on a terminal',
  )
    .choices(PROGRESS_MODES)
    .default('auto');
}

export interface ProgressReporter {
  onProgress: OnProgress;
  /** End the current bar or line; call before printing the result. */
  stop(): void;
}

const MIB = 1024 * 1024;
const amount = (n: number, unit: ProgressEvent['unit']) =>
  unit === 'bytes' ? `${(n / MIB).toFixed(1)} MiB` : `${n} files`;

export function progressReporter(
  mode: ProgressMode = 'auto',
  stream: NodeJS.WriteStream = process.stderr,
): ProgressReporter {
  const kind = mode === 'auto' ? (stream.isTTY ? 'bar' : 'quiet-lines') : mode;
  if (kind === 'none') return { onProgress: () => undefined, stop: () => undefined };
  return kind === 'bar' ? barReporter(stream) : lineReporter(stream, kind === 'quiet-lines');
}

function barReporter(stream: NodeJS.WriteStream): ProgressReporter {
  let bar: cliProgress.SingleBar | undefined;
  let phase = '';
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    onProgress(e) {
      if (!bar || e.phase !== phase) {
        stop();
        phase = e.phase;
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${e.phase.padEnd(12)} [{bar}] {percentage}% | {amount} | ETA {eta_formatted}`,
            hideCursor: true,
            clearOnComplete: false,
            etaBuffer: 20,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(e.total, 1), 0, { amount: '' });
      }
      bar.setTotal(Math.max(e.total, 1));
      bar.update(e.done, { amount: `${amount(e.done, e.unit)} / ${amount(e.total, e.unit)}` });
    },
    stop,
  };
}

function lineReporter(stream: NodeJS.WriteStream, quietAtFirst: boolean): ProgressReporter {
  const started = Date.now();
  let phase = '';
  let last = 0;
  let pending: ProgressEvent | undefined;
  const line = (e: ProgressEvent) => {
    const pct = e.total > 0 ? Math.floor((e.done / e.total) * 100) : 100;
    stream.write(`${e.phase}: ${pct}% (${amount(e.done, e.unit)} of ${amount(e.total, e.unit)})\n`);
    last = Date.now();
    pending = undefined;
  };
  return {
    onProgress(e) {
      const quiet = quietAtFirst && Date.now() - started < AUTO_QUIET_MS;
      if (e.phase !== phase) {
        // The previous phase's last figure, so every phase a reader saw start is seen to end.
        if (pending && !quiet) line(pending);
        phase = e.phase;
        if (!quiet) line(e);
        return;
      }
      pending = e;
      if (quiet) return;
      if (e.done >= e.total || Date.now() - last >= LINE_EVERY_MS) line(e);
    },
    stop() {
      if (pending && !(quietAtFirst && Date.now() - started < AUTO_QUIET_MS)) line(pending);
    },
  };
}
