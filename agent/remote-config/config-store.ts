// The remote config in force, on disk: $DATA_DIR/config/applied.yaml, state.json (version, sha256, status)
// and history/ with the last N applied ones. Every file is replaced atomically (temp, fsync, rename).
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic-file.js';

export type ConfigStatus = 'local' | 'applied' | 'rejected' | 'rolled_back';

/** The retained `config/state` payload. version/sha256/appliedAt describe the config in force. */
export interface ConfigState {
  version: number;
  sha256: string;
  appliedAt: string;
  /** Outcome of the last config/set (or `local` when none was ever applied). */
  status: ConfigStatus;
  error?: string;
  /** The refused config/set, when status is rejected or rolled_back. */
  attempted?: { version?: number; sha256: string };
}

export interface HistoryEntry {
  version: number;
  sha256: string;
  appliedAt: string;
  file: string;
}

interface StateFile {
  state: ConfigState;
  history: HistoryEntry[];
}

export const APPLIED_FILE = 'applied.yaml';
const STATE_FILE = 'state.json';

export class ConfigStore {
  private constructor(
    readonly dir: string,
    private readonly historyLength: number,
    private data: StateFile | undefined,
  ) {}

  /** dir is $DATA_DIR/config. A missing or unreadable state.json means no remote config yet. */
  static async open(dir: string, opts: { historyLength: number }): Promise<ConfigStore> {
    await mkdir(join(dir, 'history'), { recursive: true });
    let data: StateFile | undefined;
    try {
      const doc = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as StateFile;
      if (typeof doc?.state?.version === 'number' && Array.isArray(doc.history)) data = doc;
    } catch {
      data = undefined;
    }
    return new ConfigStore(dir, opts.historyLength, data);
  }

  get state(): ConfigState | undefined {
    return this.data?.state;
  }

  get history(): readonly HistoryEntry[] {
    return this.data?.history ?? [];
  }

  /** Text of the last applied remote config, if any (the agent may start from it). */
  async appliedText(): Promise<string | undefined> {
    if (!this.data || this.data.state.version === 0) return undefined;
    try {
      return await readFile(join(this.dir, APPLIED_FILE), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** Record a newly applied config: history file, applied.yaml, then state.json (the commit point). */
  async saveApplied(text: string, state: ConfigState): Promise<void> {
    const file = join('history', `${state.version}-${state.sha256.slice(0, 12)}.yaml`);
    await writeFileAtomic(join(this.dir, file), text);
    await writeFileAtomic(join(this.dir, APPLIED_FILE), text);
    const entry: HistoryEntry = {
      version: state.version,
      sha256: state.sha256,
      appliedAt: state.appliedAt,
      file,
    };
    const all = [entry, ...this.history.filter((h) => h.file !== file)];
    const keep = all.slice(0, this.historyLength + 1); // the one in force plus N previous
    await this.saveState({ state, history: keep });
    for (const old of all.slice(keep.length)) await rm(join(this.dir, old.file), { force: true });
  }

  /** Record the outcome of a refused or rolled-back config/set; the config in force is unchanged. */
  async saveStatus(state: ConfigState): Promise<void> {
    await this.saveState({ state, history: [...this.history] });
  }

  private async saveState(data: StateFile): Promise<void> {
    await writeFileAtomic(join(this.dir, STATE_FILE), JSON.stringify(data, null, 2) + '\n');
    this.data = data;
  }
}
