// The launcher's core: runs the active slot's agent as a child, performs switches, judges probation from
// the child's health reports (IPC), detects crash loops and rolls back. It alone writes Switching →
// Probation → Committed/RollingBack → Failed for agent bundles.
// Beside it: launcher-ota-state.ts (reading, locking, rolling back), resume-at-start.ts (what a restart
// finishes), launcher-settings.ts (its bounds).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { holdIfAsked } from '../device/hold.js';
import { otaPaths, slotEntry, type OtaPaths, type SlotName } from '../device/paths.js';
import { commit, completeSwitch, isHealthyAgainst } from '../device/slot-switch.js';
import { move, type Health, type OtaState } from '../device/state-store.js';
import { waitsForWindow } from '../device/states.js';
import { NO_HEALTH, parseHealthMessage } from './health-message.js';
import { LauncherUpdateLock } from './balena-lock.js';
import { LauncherOtaState } from './launcher-ota-state.js';
import type { LauncherOptions } from './launcher-settings.js';
import { resumeAtStart } from './resume-at-start.js';

// main.ts and the tests take the settings from here, as before the split.
export {
  DEFAULT_LAUNCHER,
  type LauncherOptions,
  type LauncherSettings,
} from './launcher-settings.js';

export class Launcher {
  private readonly paths: OtaPaths;
  private readonly ota: LauncherOtaState;
  private child: ChildProcess | undefined;
  private running: SlotName | undefined;
  private exits: number[] = [];
  private lastHealth: Health | undefined;
  private healthySince: number | undefined;
  private probationStart = 0;
  /** When the running child first reported health: a slow start does not eat the probation window. */
  private firstReportAt: number | undefined;
  private busy = false;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private done!: (code: number) => void;
  private lastCode = 0;

  /** balena's update lock, held from an agent switch through the end of its probation. */
  private readonly updateLock: LauncherUpdateLock;

  constructor(private readonly o: LauncherOptions) {
    this.paths = otaPaths(o.dataDir);
    this.ota = new LauncherOtaState(this.paths, o.factory, o.logger);
    const e = o.env;
    this.updateLock = new LauncherUpdateLock(
      e.BALENA_APP_LOCK_PATH ??
        (e.BALENA_SUPERVISOR_ADDRESS ? '/tmp/balena/updates.lock' : undefined),
    );
  }

  /** Resolves with the exit code once shutdown() finished. */
  async run(): Promise<number> {
    const finished = new Promise<number>((r) => (this.done = r));
    await resumeAtStart(this.ota, this.o.settings.crashLoopExits, this.o.logger);
    if (this.switchInFlight(this.ota.read())) this.updateLock.take();
    else this.updateLock.clearStale();
    await this.startChild();
    this.timer = setInterval(() => void this.tick(), this.o.settings.pollMs);
    return finished;
  }

  async shutdown(signal: NodeJS.Signals): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.timer);
    this.o.logger.info({ signal, slot: this.running }, 'launcher stopping the agent');
    await this.stopChild(signal);
    this.done(this.lastCode);
  }

  private async startChild(): Promise<void> {
    if (this.stopping) return;
    let s = this.ota.read();
    let slot = s.active;
    let entry = slotEntry(this.paths, this.o.factory, slot);
    if (!existsSync(entry) && slot !== 'factory') {
      await this.ota.exclusive((st) =>
        this.ota.rollBack(st, 'install-failed', `slot ${slot} has no bin/wms-gateway.js`),
      );
      s = this.ota.read();
      slot = s.active;
      entry = slotEntry(this.paths, this.o.factory, slot);
    }
    this.running = slot;
    this.healthySince = undefined;
    this.lastHealth = undefined; // health counts only when the child now running reported it
    if (s.phase === 'Probation') this.probationStart = Date.now();
    this.firstReportAt = undefined;
    const child = spawn(process.execPath, [...process.execArgv, entry, ...this.o.args], {
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      // OTA_FACTORY_DIR: an agent running from slot a/b must still know where the image is (its
      // version in ota/state, the factory slot as a base).
      env: { ...this.o.env, WMS_GATEWAY_SLOT: slot, OTA_FACTORY_DIR: this.o.factory },
    });
    this.child = child;
    this.o.logger.info({ slot, pid: child.pid, phase: s.phase }, 'launcher started the agent');
    child.on('message', (m: unknown) => this.onMessage(m));
    child.once('exit', (code, signal) => void this.onExit(child, code, signal));
  }

  private onMessage(m: unknown): void {
    const h = parseHealthMessage(m);
    if (!h) return;
    this.lastHealth = h;
    this.firstReportAt ??= Date.now();
  }

  private async stopChild(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    this.child = undefined;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => c.kill('SIGKILL'), this.o.settings.stopGraceMs);
      c.once('exit', (code) => {
        clearTimeout(kill);
        this.lastCode = code ?? 0;
        resolve();
      });
      c.kill(signal);
    });
  }

  private async onExit(
    c: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    if (this.child !== c || this.stopping) return; // a stop we asked for
    this.child = undefined;
    const now = Date.now();
    this.exits = [...this.exits.filter((t) => now - t < this.o.settings.crashLoopWindowMs), now];
    this.o.logger.warn(
      { slot: this.running, code, signal, exits: this.exits.length },
      'agent exited',
    );
    let delay = this.o.settings.restartDelayMs;
    if (this.exits.length >= this.o.settings.crashLoopExits) {
      this.exits = [];
      const s = this.ota.read();
      const mapInFlight =
        s.update?.target === 'plc-map' && (s.phase === 'Switching' || s.phase === 'Probation');
      if (mapInFlight) {
        // The agent crash-loops under a new PLC map: the map is rolled back (by the agent, which
        // starts again with the committed map in force), not the agent's slot.
        await this.withBusy(() =>
          this.ota.exclusive((st) => {
            if (st.update?.target === 'plc-map' && ['Switching', 'Probation'].includes(st.phase)) {
              st.error = {
                reason: 'crash-loop',
                message: `the agent exited ${this.o.settings.crashLoopExits} times under PLC map ${st.update.version}`,
              };
              move(this.paths, st, 'RollingBack', {
                message: st.error.message,
                reason: 'crash-loop',
              });
            }
          }),
        );
        delay = 0;
      } else if (s.active !== 'factory' || s.phase === 'Probation') {
        await this.withBusy(() =>
          this.ota.exclusive((st) =>
            this.ota.rollBack(
              st,
              'crash-loop',
              `slot ${st.active} exited ${this.o.settings.crashLoopExits} times within ${this.o.settings.crashLoopWindowMs / 1000} s`,
            ),
          ),
        );
        delay = 0;
      } else delay = this.o.settings.crashLoopWindowMs / this.o.settings.crashLoopExits; // the factory slot has nowhere to go: slow down
    }
    setTimeout(() => void this.startChild(), delay);
  }

  private async withBusy(fn: () => Promise<unknown>): Promise<void> {
    this.busy = true;
    try {
      await fn();
    } finally {
      this.busy = false;
    }
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopping) return;
    let s: OtaState;
    try {
      s = this.ota.read();
    } catch {
      return;
    }
    const agentUpdate = s.update?.target !== 'plc-map';
    if (this.updateLock.held && !this.switchInFlight(s)) this.updateLock.release();
    if (s.phase === 'Switching' && agentUpdate && !waitsForWindow(s)) {
      const baseline = this.lastHealth ?? s.update?.baseline ?? NO_HEALTH;
      if (!this.updateLock.take()) {
        this.o.logger.info('launcher: balena update lock held by someone else; switch waits');
        return;
      }
      await this.withBusy(async () => {
        await holdIfAsked('Switching');
        await this.stopChild();
        await this.ota.exclusive((st) => {
          if (st.phase === 'Switching' && !waitsForWindow(st))
            completeSwitch(this.paths, st, baseline);
        });
        await holdIfAsked('Probation');
        this.exits = [];
        await this.startChild();
      });
      return;
    }
    if (s.phase === 'RollingBack' && agentUpdate) {
      await this.withBusy(async () => {
        await this.stopChild();
        await this.ota.exclusive(async (st) => {
          if (st.phase === 'RollingBack')
            await this.ota.rollBack(st, st.error?.reason ?? 'manual', 'rollback requested');
        });
        await this.startChild();
      });
      return;
    }
    if (this.child && s.active !== this.running) {
      // Someone else (ota rollback) changed the active slot.
      await this.withBusy(async () => {
        await this.stopChild();
        await this.startChild();
      });
      return;
    }
    if (s.phase === 'Probation' && agentUpdate && this.child) await this.judgeProbation(s);
  }

  /** An agent switch between its start and its commit or rollback: balena's lock is held. */
  private switchInFlight(s: OtaState): boolean {
    // Waiting for a maintenance window is not a switch in flight: balena may update meanwhile.
    if (waitsForWindow(s)) return false;
    return (
      s.update?.target !== 'plc-map' && ['Switching', 'Probation', 'RollingBack'].includes(s.phase)
    );
  }

  private async judgeProbation(s: OtaState): Promise<void> {
    const baseline = s.update?.probation?.baseline ?? NO_HEALTH;
    const now = Date.now();
    if (isHealthyAgainst(this.lastHealth, baseline)) this.healthySince ??= now;
    else this.healthySince = undefined;
    const st = this.o.settings;
    if (this.healthySince !== undefined && now - this.healthySince >= st.minHealthySeconds * 1000) {
      await this.withBusy(() =>
        this.ota.exclusive((x) => {
          if (x.phase === 'Probation')
            commit(
              this.paths,
              x,
              `slot ${x.active} (${x.update?.version}) healthy for ${st.minHealthySeconds} s; committed`,
            );
          this.o.logger.info({ slot: x.active }, 'launcher committed the update');
        }),
      );
    } else if (
      now - (this.firstReportAt ?? this.probationStart) >
      (st.minHealthySeconds + st.probationGraceSeconds) * 1000
    ) {
      const h = this.lastHealth;
      await this.withBusy(async () => {
        await this.stopChild();
        await this.ota.exclusive(async (x) => {
          if (x.phase === 'Probation')
            await this.ota.rollBack(
              x,
              'unhealthy',
              `slot ${x.active} not healthy for ${st.minHealthySeconds} s within ${st.minHealthySeconds + st.probationGraceSeconds} s (last report ${JSON.stringify(h ?? null)}, needed ${JSON.stringify(baseline)})`,
            );
        });
        await this.startChild();
      });
    }
  }
}
