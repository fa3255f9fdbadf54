// The link's public vocabulary (options, alerts, stats, subscription options), in its own file so the
// modules the link is split into share it without importing the WmsLink class. Importers keep taking
// these from wms-link.ts, which re-exports them.
import type { PlcState } from '../../plc/poller/types.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { WriteFailure } from '../outbox/outbox.js';
import type { InboundQueueStats } from './inbound-queue.js';
import type { OutboxFull } from './outbox-full.js';
import type { ClientPair } from './tls-material.js';
import type { AckCounters } from './wms-ack.js';
import type { PeerView } from './wms-peer.js';
import type { LinkFormat } from './link-format.js';

export type WmsConfig = GatewayConfig['wms'];
export interface HeartbeatExtras {
  plcs: Record<string, PlcState | string>;
  [k: string]: unknown;
}
export interface Alert {
  ts: string;
  level: 'warning' | 'critical';
  code: string;
  message: string;
  [k: string]: unknown;
}

/** Raise an alert (what the link's alert() takes), as the link's helpers and the Sparkplug node call it. */
export type AlertFn = (
  level: 'warning' | 'critical',
  code: string,
  message: string,
  extra?: object,
) => void;

export interface WmsLinkOptions {
  tenant: string;
  gatewayId: string;
  dataDir: string;
  version: string;
  wms: WmsConfig;
  logger: Logger;
  heartbeat?: () => Promise<HeartbeatExtras> | HeartbeatExtras;
  /** WMS_KEY_PASSPHRASE, for an encrypted client key (never logged). */
  keyPassphrase?: string | undefined;
  /** The client pair to start with when it is not wms.tls.cert/key (a renewed identity). */
  clientPair?: ClientPair | undefined;
  /** The `register` payload (without ts), published retained on every connect (CONTRACT.md §8). */
  registration?: () => Record<string, unknown>;
  /** Whether a PLC id is configured (a WMS ack for another one is refused). */
  knownPlc?: (plc: string) => boolean;
  /** Data in another format than plc/{plc}/data JSON (wms.format: sparkplug-b). */
  format?: LinkFormat;
}

export interface WmsLinkStats {
  connected: boolean;
  url?: string;
  since?: string;
  reconnects: number;
  published: number;
  outbox: {
    messages: number;
    bytes: number;
    dropped: number;
    oldestTs?: string;
    /** Set while the outbox cannot write (a full disk): new readings are dropped and counted. */
    writeFailure?: WriteFailure;
    /** Set while the outbox's bound costs readings (its policy drops them): CONTRACT §10. */
    full?: OutboxFull;
  };
  /** Per inbound topic: messages received and dropped because its queue was full. */
  inbound: Record<string, InboundQueueStats>;
  delivery: 'broker' | 'wms-ack';
  /** The WMS's own heartbeat, as watched on the tenant-wide topic. */
  peer: PeerView;
  acks: AckCounters;
}

export interface SubscribeOptions {
  /** Handler calls of this topic running at once (default 1). */
  concurrency?: number;
  /** Messages that waited longer than this in the queue are dropped (onDrop) instead of handled. */
  maxWaitMs?: number;
  /** At most one handler start per this interval (rare, costly topics such as config/set). */
  minIntervalMs?: number;
  /** A message dropped because the topic's queue is full: answer it cheaply (no disk, no crypto). */
  onDrop?: (payload: Buffer) => void;
}
