// Who did what to the machinery, when, and how it ended: JSON lines at $DATA_DIR/audit/audit.jsonl,
// each fsynced before the call returns, rotated by size (audit.1.jsonl is the newest old file).
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fsyncDir } from '../../platform/atomic-file.js';

export const AUDIT_FILE = 'audit.jsonl';

export interface AuditEntry {
  kind: 'command' | 'config';
  /** Key id that signed it; null when unsigned or unverifiable. */
  who: string | null;
  /** Command id or config version. */
  id: string | number | null;
  /** A summary: PLC, op, tags and values written, or the config's version/sha256/changes. Never secrets. */
  what: Record<string, unknown>;
  outcome: 'accepted' | 'rejected' | 'duplicate' | 'ok' | 'error' | 'applied' | 'rolled_back';
  reason?: string;
}

export interface AuditOptions {
  maxBytes: number;
  files: number;
}

export class AuditLog {
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly opts: AuditOptions,
    private fh: FileHandle,
    private size: number,
  ) {}

  static async open(dir: string, opts: AuditOptions): Promise<AuditLog> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, AUDIT_FILE);
    const fh = await open(path, 'a', 0o600);
    const size = (await stat(path)).size;
    return new AuditLog(dir, opts, fh, size);
  }

  /** Append one entry (with ts) durably; entries are written in call order. */
  append(entry: AuditEntry): Promise<void> {
    const line = JSON.stringify({ ts: new Date().toISOString(), ...entry }) + '\n';
    const run = async () => {
      const bytes = Buffer.byteLength(line);
      if (this.size > 0 && this.size + bytes > this.opts.maxBytes) await this.rotate();
      await this.fh.appendFile(line);
      await this.fh.datasync();
      this.size += bytes;
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.fh.close();
  }

  private file(n: number): string {
    return join(this.dir, n === 0 ? AUDIT_FILE : `audit.${n}.jsonl`);
  }

  private async rotate(): Promise<void> {
    await this.fh.close();
    const keep = this.opts.files;
    await rm(this.file(keep - 1), { force: true });
    for (let n = keep - 2; n >= 0; n--)
      await rename(this.file(n), this.file(n + 1)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    this.fh = await open(this.file(0), 'a', 0o600);
    this.size = 0;
    await fsyncDir(this.dir);
  }
}
