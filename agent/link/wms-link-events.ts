// What the WMS link tells the core and north services, as a type tsc checks on both sides. In its own
// file so wms-link.ts keeps to the link itself.
import type { WriteFailure } from '../outbox/outbox.js';
import type { Alert } from './wms-link-types.js';
import type { OutboxFull } from './outbox-full.js';
import type { PeerView } from './wms-peer.js';

export type WmsLinkEvents = {
  connected: [e: { url: string }];
  /** The connection is gone; error says why when it was lost rather than dropped to reconnect. */
  disconnected: [e: { error?: Error }];
  /** One connection attempt failed (the identity manager counts refusals of a renewed certificate). */
  'attempt-failed': [err: Error, url: string];
  /** An alert was raised (and is being published on alerts). */
  alert: [alert: Alert];
  /** The WMS's heartbeat changed state (alive, silent ...). */
  peer: [peer: PeerView];
  'outbox-write-failure': [failure: WriteFailure];
  'outbox-write-recovered': [failure: WriteFailure];
  /** The outbox's bound started costing readings (a state), or stopped (undefined). CONTRACT §10. */
  'outbox-full': [state: OutboxFull | undefined];
  /** A message on one of our subscribed topics (sub: the topic below the tenant prefix). */
  message: [sub: string, payload: Buffer, meta: { topic: string }];
};
