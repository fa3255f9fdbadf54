// The link's part of the conversation with the WMS itself (CONTRACT.md §8), beside the broker: the WMS's
// heartbeat on the tenant-wide topic (silent after 3 periods, alert wms-silent, cleared on its return),
// its end-to-end acks on plc/{plc}/ack, and sending unconfirmed data again after wms.ackTimeoutSeconds.
import type { MqttClient } from 'mqtt';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../../platform/logger.js';
import type { Outbox } from '../outbox/outbox.js';
import { WmsAckHandler, type AckCounters } from './wms-ack.js';
import { parsePeerHeartbeat, WmsPeer, type PeerView } from './wms-peer.js';

type WmsConfig = GatewayConfig['wms'];

export interface WmsConversationOptions {
  tenant: string;
  outbox: Outbox;
  logger: Logger;
  wms: () => WmsConfig;
  knownPlc: (plc: string) => boolean;
  connected: () => boolean;
  /** More data may be published (acks released room, or data is to go again). */
  schedulePump: () => void;
  alert: (level: 'warning', code: string, message: string, extra: object) => void;
  /** The WMS went silent or came back. */
  onPeerChange: (view: PeerView) => void;
}

const ACK_TOPIC = /^plc\/([^/]+)\/ack$/;

export class WmsConversation {
  readonly peerTopic: string;
  private readonly peer: WmsPeer;
  private readonly acks: WmsAckHandler;
  private resendTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: WmsConversationOptions) {
    this.peerTopic = `wms/${o.tenant}/_wms/heartbeat`;
    this.acks = new WmsAckHandler(o.outbox, o.logger, o.knownPlc, o.schedulePump);
    this.peer = new WmsPeer(o.wms().peerHeartbeatSeconds);
    this.peer.on('silent', (ms: number) => {
      const period = this.o.wms().peerHeartbeatSeconds;
      o.alert(
        'warning',
        'wms-silent',
        `no WMS heartbeat for ${(ms / 1000).toFixed(0)} s (expected every ${period} s)`,
        { silentForMs: ms },
      );
      o.onPeerChange(this.peer.view());
    });
    this.peer.on('alive', (ms: number) => {
      o.alert('warning', 'wms-silent', `WMS heartbeat back after ${(ms / 1000).toFixed(0)} s`, {
        resolved: true,
        silentForMs: ms,
      });
      o.onPeerChange(this.peer.view());
    });
  }

  start(): void {
    this.peer.start();
    this.startResendTimer();
  }

  stop(): void {
    clearInterval(this.resendTimer);
    this.peer.stop();
  }

  /** Connected: always subscribed to both, so a hot config change needs no resubscribe. */
  onUp(client: MqttClient, topic: (sub: string) => string): void {
    client.subscribe(topic('plc/+/ack'), { qos: 1 });
    client.subscribe(this.peerTopic, { qos: 0 });
    this.peer.listen();
  }

  onDown(): void {
    this.peer.deaf();
  }

  reconfigure(before: WmsConfig, after: WmsConfig): void {
    this.o.outbox.setDelivery(after.delivery);
    if (before.peerHeartbeatSeconds !== after.peerHeartbeatSeconds)
      this.peer.start(after.peerHeartbeatSeconds);
    if (before.ackTimeoutSeconds !== after.ackTimeoutSeconds) this.startResendTimer();
  }

  /** The WMS's heartbeat (full topic). */
  onPeerHeartbeat(payload: Buffer): void {
    const hb = parsePeerHeartbeat(payload);
    if (typeof hb === 'string') {
      this.o.logger.debug({ err: hb }, 'WMS heartbeat ignored');
      return;
    }
    this.peer.beat(hb);
  }

  /** An inbound message under the gateway prefix: true when it was an ack (handled here). */
  routeAck(subtopic: string, payload: Buffer): boolean {
    const m = ACK_TOPIC.exec(subtopic);
    if (!m) return false;
    this.acks.handle(m[1]!, payload);
    return true;
  }

  stats(): { peer: PeerView; acks: AckCounters } {
    return { peer: this.peer.view(), acks: { ...this.acks.counters } };
  }

  private startResendTimer(): void {
    clearInterval(this.resendTimer);
    const seconds = this.o.wms().ackTimeoutSeconds;
    this.resendTimer = setInterval(
      () => {
        if (!this.o.connected()) return; // a reconnect sends everything unconfirmed again anyway
        const n = this.o.outbox.resendUnconfirmed(seconds * 1000);
        if (n === 0) return;
        this.o.logger.info(
          { messages: n, ackTimeoutSeconds: seconds },
          'no WMS ack in time: unacknowledged data sent again',
        );
        this.o.schedulePump();
      },
      Math.min(1000, (seconds * 1000) / 4),
    );
    this.resendTimer.unref();
  }
}
