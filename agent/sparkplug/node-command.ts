// NCMD, the host's command to the node itself: the only metric a node has is Node Control/Rebirth.
// A malformed payload or any other metric is refused with an alert (sparkplug.ncmd-refused), never
// thrown into the link; each rebirth request set to true is handed to the node, in payload order.
import { REBIRTH_ALIAS, REBIRTH_METRIC } from './aliases.js';
import { decodePayload, isSparkplugDecodeError, type SpPayload } from './payload-codec.js';

export type NodeCommandAlert = (
  level: 'warning' | 'critical',
  code: string,
  message: string,
  extra?: object,
) => void;

export function readNodeCommand(
  payload: Buffer,
  alert: NodeCommandAlert,
  rebirth: () => void,
): void {
  let p: SpPayload;
  try {
    p = decodePayload(payload);
  } catch (e) {
    if (!isSparkplugDecodeError(e)) throw e;
    alert('warning', 'sparkplug.ncmd-refused', `NCMD ignored: ${e.message}`, {
      reason: 'malformed',
    });
    return;
  }
  for (const m of p.metrics) {
    const isRebirth =
      m.name === REBIRTH_METRIC || (m.name === undefined && m.alias === REBIRTH_ALIAS);
    if (!isRebirth) {
      alert(
        'warning',
        'sparkplug.ncmd-refused',
        `NCMD metric ${m.name ?? `alias ${m.alias}`} is not one this node has`,
        { reason: 'unknown-metric' },
      );
      continue;
    }
    if (m.booleanValue !== true) continue;
    rebirth();
  }
}
