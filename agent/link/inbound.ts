// Inbound payloads on every `in` topic: MQTT 5 content type application/gzip means a gzip body
// (CONTRACT.md §8), inflated under a bound (wms.maxPayloadBytes) so a small bomb cannot fill memory.
import { gunzipSync } from 'node:zlib';

export class InboundPayloadError extends Error {
  constructor(
    readonly reason: 'bad-gzip' | 'too-large',
    message: string,
  ) {
    super(message);
    this.name = 'InboundPayloadError';
  }
}
export function isInboundPayloadError(e: unknown): e is InboundPayloadError {
  return e instanceof InboundPayloadError;
}

export const GZIP_CONTENT_TYPE = 'application/gzip';

/** The payload as the handlers read it: inflated when its content type says gzip. */
export function decodeInbound(
  payload: Buffer,
  contentType: string | undefined,
  maxBytes: number,
): Buffer {
  if (contentType?.toLowerCase() !== GZIP_CONTENT_TYPE) return payload;
  try {
    return gunzipSync(payload, { maxOutputLength: maxBytes });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || (e as Error).message.includes('Cannot create a Buffer'))
      throw new InboundPayloadError('too-large', `inflated payload over ${maxBytes} bytes`);
    throw new InboundPayloadError('bad-gzip', `not a valid gzip body: ${(e as Error).message}`);
  }
}
