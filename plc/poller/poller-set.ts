// All PLC pollers of the gateway. Hot apply: only PLCs whose config changed are restarted; RTU buses
// and TCP endpoints are shared through registries so PLCs on the same serial path or host:port use
// one bus or one connection.
import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { PlcConfig } from '../config/schema.js';
import { SerialBusRegistry } from '../driver/serial-bus.js';
import { TcpLinkRegistry } from '../driver/tcp-link.js';
import { PlcPoller, type PlcReading, type PlcStatus, type PollerOptions } from './plc-poller.js';

/** Every poller's readings and status changes, each status naming its PLC. */
export type PollerSetEvents = {
  reading: [reading: PlcReading];
  status: [status: PlcStatus & { plc: string }];
};

export class PollerSet extends EventEmitter<PollerSetEvents> {
  private readonly pollers = new Map<string, PlcPoller>();
  readonly buses = new SerialBusRegistry();
  /** One TCP connection per host:port, shared by the PLCs (unit ids) behind it. */
  readonly tcpLinks = new TcpLinkRegistry();
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly deps: { logger: Logger; options?: PollerOptions }) {
    super();
  }

  get(id: string): PlcPoller | undefined {
    return this.pollers.get(id);
  }

  list(): PlcPoller[] {
    return [...this.pollers.values()];
  }

  /** Make the running set match `plcs`. Calls are serialised; unchanged PLCs are not touched. */
  apply(plcs: PlcConfig[]): Promise<void> {
    const run = this.applying.then(() => this.doApply(plcs));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async doApply(plcs: PlcConfig[]): Promise<void> {
    const next = new Map(plcs.map((p) => [p.id, p]));
    const outgoing = [...this.pollers.values()].filter((p) => {
      const cfg = next.get(p.id);
      return !cfg || !isDeepStrictEqual(cfg, p.config);
    });
    // Stop first: a changed PLC on a serial bus must release it before its successor opens it.
    await Promise.all(outgoing.map((p) => this.remove(p)));
    const added: string[] = [];
    for (const [index, cfg] of plcs.entries()) {
      if (this.pollers.has(cfg.id)) continue;
      const p = new PlcPoller(cfg, {
        logger: this.deps.logger,
        buses: this.buses,
        tcpLinks: this.tcpLinks,
        options: this.deps.options,
        // Evenly spread poll phases in config order (a PLC kept across a hot apply keeps its own).
        slot: { index, count: plcs.length },
      });
      p.on('reading', (r) => this.emit('reading', r));
      p.on('status', (s) => this.emit('status', { ...s, plc: p.id }));
      this.pollers.set(cfg.id, p);
      p.start();
      added.push(cfg.id);
    }
    if (outgoing.length || added.length)
      this.deps.logger.info(
        { started: added, stopped: outgoing.map((p) => p.id), running: this.pollers.size },
        'PLC pollers applied',
      );
  }

  private async remove(p: PlcPoller): Promise<void> {
    this.pollers.delete(p.id);
    await p.stop();
    p.removeAllListeners();
  }

  async stop(): Promise<void> {
    await this.applying;
    await Promise.all(this.list().map((p) => this.remove(p)));
  }
}
