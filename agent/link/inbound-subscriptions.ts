// Inbound side of the link: the gateway's subscriptions, each behind its own bounded queue
// (wms.inbound), and the dispatch of every received message to the one place it belongs: the WMS
// heartbeat, the data format's own topics (Sparkplug), a WMS ack, or a subscribed handler.
import type { MqttClient } from 'mqtt';
import type { Logger } from '../../platform/logger.js';
import { InboundQueue, type InboundQueueStats } from './inbound-queue.js';
import { decodeInbound } from './inbound.js';
import type { LinkFormat } from './link-format.js';
import type { WmsConversation } from './wms-conversation.js';
import type { SubscribeOptions, WmsConfig } from './wms-link-types.js';

/** At most one log line + alert per topic about queue drops in this interval. */
export const INBOUND_DROP_REPORT_MS = 10_000;

export interface InboundOptions {
  log: Logger;
  /** The gateway's own topic prefix (wms/{tenant}/{gateway}/). */
  prefix: string;
  wms: () => WmsConfig;
  client: () => MqttClient | undefined;
  talk: () => WmsConversation;
  format: LinkFormat | undefined;
  alert: (level: 'warning', code: string, message: string, extra: object) => void;
  /** Every message on one of the gateway's own topics, before its handler (the 'message' event). */
  onMessage: (sub: string, payload: Buffer, topic: string) => void;
}

export class InboundSubscriptions {
  private handlers = new Map<string, InboundQueue>();
  private dropReport = new Map<string, { at: number; reported: number }>();

  constructor(private readonly o: InboundOptions) {}

  subscribe(
    subtopic: string,
    handler: (payload: Buffer) => unknown,
    opts: SubscribeOptions = {},
  ): void {
    const guarded = async (payload: Buffer) => {
      try {
        await handler(payload);
      } catch (e) {
        this.o.log.error(
          { topic: subtopic, err: (e as Error).message },
          'inbound message handler failed',
        );
      }
    };
    const q = new InboundQueue(
      guarded,
      {
        ...this.queueOptions(opts.concurrency ?? 1),
        maxWaitMs: opts.maxWaitMs,
        minIntervalMs: opts.minIntervalMs,
      },
      (payload, dropped) => {
        opts.onDrop?.(payload);
        this.reportDrop(subtopic, dropped);
      },
    );
    this.handlers.set(subtopic, q);
    this.o.client()?.subscribe(this.o.prefix + subtopic, { qos: 1 });
  }

  /** A new connection: subscribe every topic again. */
  resubscribe(client: MqttClient): void {
    for (const sub of this.handlers.keys()) client.subscribe(this.o.prefix + sub, { qos: 1 });
  }

  /** wms.inbound changed: every queue takes the new bounds (each keeps its concurrency). */
  reconfigure(): void {
    for (const q of this.handlers.values())
      q.set({ ...q.options, ...this.queueOptions(q.options.concurrency) });
  }

  stats(): Record<string, InboundQueueStats> {
    return Object.fromEntries([...this.handlers].map(([t, q]) => [t, q.stats()]));
  }

  private queueOptions(concurrency: number) {
    const b = this.o.wms().inbound;
    return { maxMessages: b.queueLength, maxBytes: b.queueBytes, concurrency };
  }

  private reportDrop(subtopic: string, dropped: number): void {
    const r = this.dropReport.get(subtopic) ?? { at: 0, reported: 0 };
    const now = Date.now();
    if (now - r.at < INBOUND_DROP_REPORT_MS) return;
    const n = dropped - r.reported;
    this.dropReport.set(subtopic, { at: now, reported: dropped });
    this.o.alert(
      'warning',
      'inbound-queue-full',
      `${subtopic}: ${n} inbound messages dropped, its queue is full (wms.inbound); ${dropped} in total`,
      { topic: subtopic, dropped: n, droppedTotal: dropped },
    );
  }

  dispatch(topic: string, raw: Buffer, contentType?: string): void {
    const { log, prefix, format } = this.o;
    const talk = this.o.talk();
    const wms = this.o.wms();
    const peer = topic === talk.peerTopic;
    const ours = topic.startsWith(prefix);
    // Topics outside the gateway's prefix: the WMS heartbeat, and the data format's own (Sparkplug).
    if (!peer && !ours && !format) return;
    const sub = ours ? topic.slice(prefix.length) : topic;
    if (raw.length > wms.maxPayloadBytes) {
      log.warn(
        { topic: sub, bytes: raw.length, limit: wms.maxPayloadBytes },
        'inbound message over wms.maxPayloadBytes dropped',
      );
      return;
    }
    let payload: Buffer;
    try {
      payload = decodeInbound(raw, contentType, wms.maxPayloadBytes);
    } catch (e) {
      log.warn({ topic: sub, err: (e as Error).message }, 'inbound gzip message dropped');
      return;
    }
    if (peer) return talk.onPeerHeartbeat(payload);
    if (!ours) {
      try {
        format?.message(topic, payload);
      } catch (e) {
        log.error({ topic, err: (e as Error).message }, 'inbound message handler failed');
      }
      return;
    }
    if (talk.routeAck(sub, payload)) return;
    this.o.onMessage(sub, payload, topic);
    this.handlers.get(sub)?.push(payload);
  }
}
