// Incidents as JSON lines in $DATA_DIR/incidents.jsonl, bounded: the oldest are dropped past maxIncidents.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface Incident {
  id: string;
  component: string;
  event: 'stalled' | 'restarted' | 'restart-failed' | 'recovered' | 'escalated';
  ts: string;
  detail?: string | undefined;
  /** Time without progress when the stall was detected. */
  stalledForMs?: number | undefined;
  restarts?: number | undefined;
  /** From stall detection to progress resuming. */
  recoveryMs?: number | undefined;
  /** From the last progress before the stall to progress resuming (what the data path felt). */
  outageMs?: number | undefined;
}

export class IncidentLog {
  private lines = -1;

  constructor(
    readonly path: string,
    private readonly maxIncidents: number,
  ) {}

  append(incident: Incident): void {
    if (this.lines < 0) this.lines = this.read().length;
    appendFileSync(this.path, JSON.stringify(incident) + '\n');
    this.lines++;
    // Trim to half the bound at once so the file is not rewritten on every append.
    if (this.lines > this.maxIncidents) {
      const keep = this.read().slice(-Math.ceil(this.maxIncidents / 2));
      const tmp = `${this.path}.tmp`;
      writeFileSync(tmp, keep.map((i) => JSON.stringify(i) + '\n').join(''));
      renameSync(tmp, this.path);
      this.lines = keep.length;
    }
  }

  /** Incidents on disk, oldest first; unreadable lines are skipped. */
  read(): Incident[] {
    if (!existsSync(this.path)) return [];
    const out: Incident[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const v = JSON.parse(line) as Incident;
        if (v && typeof v.component === 'string') out.push(v);
      } catch {
        // A torn last line after a power cut: skip it.
      }
    }
    return out;
  }
}
