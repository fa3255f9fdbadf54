// Integrity of the config file: its sha256 is recorded whenever the gateway loads or applies it; a file
// that no longer validates is corrupt and is restored from the newest backup holding a valid copy.
// A valid file that differs from the record was edited by hand: it is re-recorded and a warning raised.
import { readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { parseConfigText, validateConfig } from '../config/validate.js';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { copiesOf, backupsDirOf } from './backup-store.js';
import { sha256 } from './pace.js';

export function integrityRecordPath(dataDir: string): string {
  return join(dataDir, 'maintenance', 'integrity.json');
}

type Record_ = { files: Record<string, { sha256: string; recordedAt: string }> };

async function readRecord(dataDir: string): Promise<Record_> {
  try {
    const doc = JSON.parse(await readFile(integrityRecordPath(dataDir), 'utf8')) as Record_;
    return doc && typeof doc.files === 'object' && doc.files ? doc : { files: {} };
  } catch {
    return { files: {} };
  }
}

/** Record the hash of a file the gateway just loaded or wrote (call after every legitimate config change). */
export async function recordFileHash(
  dataDir: string,
  path: string,
  now = new Date(),
): Promise<string> {
  const hash = sha256(await readFile(path));
  const rec = await readRecord(dataDir);
  rec.files[path] = { sha256: hash, recordedAt: now.toISOString() };
  await writeFileAtomic(integrityRecordPath(dataDir), JSON.stringify(rec, null, 2) + '\n');
  return hash;
}

function configValid(data: Buffer, source: string): string | undefined {
  try {
    validateConfig(parseConfigText(data.toString('utf8'), source), source);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

export interface ConfigIntegrityResult {
  file: string;
  status: 'ok' | 'absent' | 'changed' | 'restored' | 'corrupt';
  problem?: string | undefined;
  restoredFrom?: string | undefined;
}

export async function checkConfigIntegrity(o: {
  dataDir: string;
  configPath: string;
  backupsDir?: string | undefined;
}): Promise<ConfigIntegrityResult> {
  const file = o.configPath;
  let data: Buffer | undefined;
  try {
    data = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      return {
        file,
        status: 'corrupt',
        problem: `unreadable: ${(e as NodeJS.ErrnoException).code}`,
      };
  }
  const rec = (await readRecord(o.dataDir)).files[file];
  if (!data && !rec) return { file, status: 'absent' };
  const invalid = data ? configValid(data, file) : 'missing';
  if (data && !invalid) {
    const hash = sha256(data);
    if (!rec || rec.sha256 === hash) {
      if (!rec) await recordFileHash(o.dataDir, file);
      return { file, status: 'ok' };
    }
    await recordFileHash(o.dataDir, file);
    return {
      file,
      status: 'changed',
      problem:
        'differs from the recorded hash but is valid: edited outside the gateway; used at the next start',
    };
  }
  const rel = relative(o.dataDir, file);
  if (rel.startsWith('..') || rel.includes(`..${sep}`))
    return {
      file,
      status: 'corrupt',
      problem: `${invalid}; outside the data dir, so no backup holds it`,
    };
  for await (const copy of copiesOf(
    o.backupsDir ?? backupsDirOf(o.dataDir),
    rel.split(sep).join('/'),
  )) {
    if (configValid(copy.data, `${copy.id}:${rel}`)) continue;
    await writeFileAtomic(file, copy.data);
    await recordFileHash(o.dataDir, file);
    return { file, status: 'restored', problem: `corrupt (${invalid})`, restoredFrom: copy.id };
  }
  return { file, status: 'corrupt', problem: `${invalid}; no backup holds a valid copy` };
}
