// The primary host's STATE (Sparkplug 3.0 primary host application): a retained JSON
// {"online": bool, "timestamp": epoch ms} on spBv1.0/STATE/{host}. A message older than the one in force
// is a stale retained copy or a replay and does not change anything.
export interface HostState {
  online: boolean;
  timestamp: number;
}

export class StateMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateMessageError';
  }
}
export function isStateMessageError(e: unknown): e is StateMessageError {
  return e instanceof StateMessageError;
}

/** Parse a STATE payload; throws StateMessageError for anything but the 3.0 JSON form. */
export function parseHostState(payload: Buffer): HostState {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new StateMessageError(
      'STATE payload is not JSON (Sparkplug 3.0 expects {"online","timestamp"})',
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new StateMessageError('STATE payload is not a JSON object');
  const { online, timestamp } = doc as Record<string, unknown>;
  if (typeof online !== 'boolean') throw new StateMessageError('STATE "online" is not a boolean');
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0)
    throw new StateMessageError('STATE "timestamp" is not an epoch-ms integer');
  return { online, timestamp };
}
