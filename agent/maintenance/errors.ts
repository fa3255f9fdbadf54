// Typed maintenance errors: callers branch on isBackupError / isIntegrityError, never on message text.
export class BackupError extends Error {
  constructor(
    message: string,
    readonly code: 'not-found' | 'corrupt' | 'invalid-manifest' | 'no-base' | 'io',
    readonly backupId?: string,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

export function isBackupError(e: unknown): e is BackupError {
  return e instanceof BackupError;
}

export class IntegrityError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'IntegrityError';
  }
}

export function isIntegrityError(e: unknown): e is IntegrityError {
  return e instanceof IntegrityError;
}
