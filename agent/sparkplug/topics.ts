// Sparkplug B topic namespace (Sparkplug 3.0): spBv1.0/{group}/{type}/{node}[/{device}], and the
// primary host's STATE topic spBv1.0/STATE/{host}.
export const NAMESPACE = 'spBv1.0';
export type NodeMessage = 'NBIRTH' | 'NDEATH' | 'NDATA' | 'NCMD';
export type DeviceMessage = 'DBIRTH' | 'DDEATH' | 'DDATA' | 'DCMD';

export class SparkplugTopics {
  constructor(
    readonly group: string,
    readonly node: string,
  ) {}

  nodeTopic(type: NodeMessage): string {
    return `${NAMESPACE}/${this.group}/${type}/${this.node}`;
  }

  deviceTopic(type: DeviceMessage, device: string): string {
    return `${NAMESPACE}/${this.group}/${type}/${this.node}/${device}`;
  }

  /** What we subscribe to: our NCMD and every device's DCMD. */
  commandFilters(): string[] {
    return [this.nodeTopic('NCMD'), `${NAMESPACE}/${this.group}/DCMD/${this.node}/+`];
  }

  /** 'NCMD' | {dcmd: device} for our command topics, undefined for anything else. */
  parseCommand(topic: string): 'NCMD' | { dcmd: string } | undefined {
    if (topic === this.nodeTopic('NCMD')) return 'NCMD';
    const prefix = `${NAMESPACE}/${this.group}/DCMD/${this.node}/`;
    if (topic.startsWith(prefix) && !topic.slice(prefix.length).includes('/'))
      return { dcmd: topic.slice(prefix.length) };
    return undefined;
  }
}

export function stateTopic(hostId: string): string {
  return `${NAMESPACE}/STATE/${hostId}`;
}
