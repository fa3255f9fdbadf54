// What the outbox tells the link, as a type tsc checks on both sides. In its own file so outbox.ts
// keeps to the store itself.
import type { DropEvent, WriteFailure } from './outbox-types.js';

export type OutboxEvents = {
  /** Messages were stored (one event per group-commit batch): the pump may send. */
  appended: [];
  /** Messages were dropped (the bound's policy, a corrupt record or a failed write). */
  dropped: [drop: DropEvent];
  /** The outbox cannot write (a full disk): set once when it starts. */
  'write-failure': [failure: WriteFailure];
  /** Writes work again; the failure that lasted until now. */
  'write-recovered': [failure: WriteFailure];
};
