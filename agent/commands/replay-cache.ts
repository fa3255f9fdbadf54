// Every command id seen, kept on disk until well after its exp, so neither a replay nor a restart can
// make a command run twice. An append-only journal (fsynced before the command is acked), compacted now and then.
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { RejectedError } from './rejection.js';

export interface CommandResult {
  id: string;
  status: 'ok' | 'error';
  values?: Record<string, unknown>;
  error?: string;
  ts: string;
}

export interface ReplayEntry {
  /** sha256 of the verified payload: the same id with other content is a replay, not a retry. */
  hash: string;
  /** Epoch ms until which the id is remembered. */
  until: number;
  result?: CommandResult;
}

type Line = { t: 'c'; id: string; h: string; u: number } | { t: 'r'; id: string; r: CommandResult };

export const REPLAY_FILE = 'replay.jsonl';

export class ReplayCache {
  private lines = 0;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private fh: FileHandle,
    private readonly entries: Map<string, ReplayEntry>,
    private readonly maxEntries: number,
  ) {}

  /** Load (dropping expired ids and a torn last line) and compact. */
  static async open(
    dir: string,
    opts: { maxEntries: number; nowMs?: number },
  ): Promise<ReplayCache> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, REPLAY_FILE);
    const entries = new Map<string, ReplayEntry>();
    const now = opts.nowMs ?? Date.now();
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const raw of text.split('\n')) {
      if (!raw) continue;
      let l: Line;
      try {
        l = JSON.parse(raw) as Line;
      } catch {
        continue; // a line torn by a crash: the command it described was never acked
      }
      if (l.t === 'c' && typeof l.id === 'string' && typeof l.u === 'number')
        entries.set(l.id, { hash: String(l.h), until: l.u });
      else if (l.t === 'r' && typeof l.id === 'string') {
        const e = entries.get(l.id);
        if (e) e.result = l.r;
      }
    }
    for (const [id, e] of entries) if (e.until <= now) entries.delete(id);
    await writeFileAtomic(path, serialize(entries));
    const fh = await open(path, 'a');
    const cache = new ReplayCache(path, fh, entries, opts.maxEntries);
    cache.lines = entries.size * 2;
    return cache;
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(id: string): ReplayEntry | undefined {
    return this.entries.get(id);
  }

  /**
   * Remember an id; the promise resolves once it is on disk. Throws RejectedError(replay-cache-full)
   * synchronously; a failed write forgets the id again (it was never durable, so never run).
   */
  claim(id: string, hash: string, until: number, nowMs = Date.now()): Promise<void> {
    if (this.entries.size >= this.maxEntries) this.prune(nowMs);
    // Evicting a live id would reopen a replay window; refusing new commands is the safe side.
    if (this.entries.size >= this.maxEntries)
      throw new RejectedError(
        'replay-cache-full',
        undefined,
        `${this.maxEntries} live command ids; retry later`,
      );
    this.entries.set(id, { hash, until });
    return this.append({ t: 'c', id, h: hash, u: until }).catch((e: unknown) => {
      this.entries.delete(id);
      throw e;
    });
  }

  async setResult(result: CommandResult): Promise<void> {
    const e = this.entries.get(result.id);
    if (!e) return;
    e.result = result;
    await this.append({ t: 'r', id: result.id, r: result });
  }

  prune(nowMs = Date.now()): void {
    for (const [id, e] of this.entries) if (e.until <= nowMs) this.entries.delete(id);
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    await this.fh.close();
  }

  private append(line: Line): Promise<void> {
    const run = async () => {
      await this.fh.appendFile(JSON.stringify(line) + '\n');
      await this.fh.datasync();
      if (++this.lines % 1000 === 0) this.prune();
      if (this.lines > 2 * this.entries.size + 1000) await this.compact();
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async compact(): Promise<void> {
    this.prune();
    await this.fh.close();
    await writeFileAtomic(this.path, serialize(this.entries));
    this.fh = await open(this.path, 'a');
    this.lines = this.entries.size * 2;
  }
}

function serialize(entries: Map<string, ReplayEntry>): string {
  let out = '';
  for (const [id, e] of entries) {
    out += JSON.stringify({ t: 'c', id, h: e.hash, u: e.until }) + '\n';
    if (e.result) out += JSON.stringify({ t: 'r', id, r: e.result }) + '\n';
  }
  return out;
}
