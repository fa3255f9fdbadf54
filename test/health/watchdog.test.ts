// Self-healing: a poller whose Modbus read hangs (the PLC simulator stops answering, the read has no
// timeout: a stuck driver) is restarted by the watchdog and polling resumes; the recovery time is measured.
// A component that never recovers escalates: the exit hook is called with 1 (balena restarts the container).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import modbusSerial from 'modbus-serial';
import { tmpDir } from '../helpers/tmp.js';
import { startSimulator } from '../../plc/simulator/simulator.js';
import { Watchdog } from '../../agent/watchdog/watchdog.js';
import { validateConfig } from '../../agent/config/validate.js';
import { waitFor } from '../helpers/wait.js';

const ModbusRTU = modbusSerial.default;

/** A bare poll loop over a real Modbus TCP connection; reads have no timeout (modbus-serial's default), so a silent PLC hangs it. */
function hangablePoller(port: number) {
  let client = new ModbusRTU();
  let last = performance.now();
  let polls = 0;
  let generation = 0;
  async function loop(gen: number) {
    while (gen === generation) {
      try {
        await client.readHoldingRegisters(0, 2);
        if (gen !== generation) return;
        polls++;
        last = performance.now();
      } catch {
        // a dead connection: the watchdog restarts us
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return {
    polls: () => polls,
    lastProgressMs: () => last,
    async start() {
      const gen = ++generation;
      client = new ModbusRTU();
      await client.connectTCP('127.0.0.1', { port });
      client.setID(1);
      void loop(gen);
    },
    async restart() {
      generation++;
      const old = client;
      await new Promise<void>((r) => old.close(() => r()));
      await this.start();
    },
    async stop() {
      generation++;
      await new Promise<void>((r) => client.close(() => r()));
    },
  };
}

test(
  'a poller that hangs is restarted by the watchdog and polling resumes',
  { timeout: 30_000 },
  async (t) => {
    const dir = tmpDir();
    const sim = await startSimulator({ port: 0 });
    const poller = hangablePoller(sim.port);
    const cfg = validateConfig({
      health: {
        watchdog: {
          checkIntervalMs: 100,
          stallSeconds: 1,
          backoffMinMs: 500,
          maxRestarts: 3,
          windowSeconds: 60,
        },
      },
    }).health.watchdog;
    const exits: number[] = [];
    const wd = new Watchdog({
      config: cfg,
      incidentsPath: join(dir.path, 'incidents.jsonl'),
      exit: (c) => exits.push(c),
    });
    try {
      await poller.start();
      wd.register({
        name: 'plc:sim',
        lastProgressMs: poller.lastProgressMs,
        restart: () => poller.restart(),
      });
      wd.start();
      await waitFor(() => poller.polls() > 5, 5000, 'polling to start');

      // The PLC swallows the next request: the read never returns (no timeout in this driver).
      const hangAt = performance.now();
      sim.setFault({ action: 'silence', times: 1 });
      const pollsAtHang = poller.polls();
      await waitFor(() => wd.incidents().some((i) => i.event === 'restarted'), 5000, 'a restart');
      await waitFor(() => poller.polls() > pollsAtHang + 5, 5000, 'polling to resume');
      const resumedAt = performance.now();
      await waitFor(
        () => wd.incidents().some((i) => i.event === 'recovered'),
        3000,
        'the recovery record',
      );

      const incidents = wd.incidents();
      assert.deepEqual(
        incidents.map((i) => i.event),
        ['stalled', 'restarted', 'recovered'],
      );
      const rec = incidents.find((i) => i.event === 'recovered')!;
      assert.equal(rec.component, 'plc:sim');
      assert.equal(rec.restarts, 1);
      assert.ok(typeof rec.recoveryMs === 'number' && typeof rec.outageMs === 'number');
      const measured = resumedAt - hangAt;
      t.diagnostic(
        `recovery: outage ${Math.round(measured)} ms measured by the test; watchdog recorded outage ${rec.outageMs} ms, ${rec.recoveryMs} ms from detection to progress`,
      );
      process.stdout.write(
        `# self-healing recovery time: ${Math.round(measured)} ms (KPI < 120000 ms)\n`,
      );
      // Stall 1 s + check 0.1 s + reconnect: far below the 2-minute KPI.
      assert.ok(measured < 10_000, `recovery took ${measured} ms`);
      assert.deepEqual(exits, []);
    } finally {
      wd.stop();
      await poller.stop();
      await sim.close();
      dir.cleanup();
    }
  },
);

test(
  'a component that keeps failing escalates: exit(1) after maxRestarts within the window',
  { timeout: 30_000 },
  async () => {
    const dir = tmpDir();
    const cfg = validateConfig({
      health: {
        watchdog: {
          checkIntervalMs: 50,
          stallSeconds: 0.2,
          backoffMinMs: 50,
          backoffMaxMs: 200,
          maxRestarts: 3,
          windowSeconds: 60,
        },
      },
    }).health.watchdog;
    const exits: number[] = [];
    let restarts = 0;
    const alerts: string[] = [];
    let flushed = false;
    const wd = new Watchdog({
      config: cfg,
      incidentsPath: join(dir.path, 'incidents.jsonl'),
      exit: (c) => {
        assert.ok(flushed, 'the escalation alert was flushed before exit');
        exits.push(c);
      },
      // The escalation alert takes 200 ms to reach the broker: exit must wait for it.
      alert: (_level, code) => {
        alerts.push(code);
        if (code !== 'watchdog.escalated') return;
        return new Promise<void>((r) => setTimeout(() => ((flushed = true), r()), 200));
      },
    });
    try {
      const since = performance.now();
      wd.register({ name: 'wms', lastProgressMs: () => since, restart: () => void restarts++ });
      wd.start();
      await waitFor(() => exits.length > 0, 10_000, 'escalation');
      assert.deepEqual(exits, [1]);
      assert.equal(restarts, 3, 'restarted maxRestarts times, with backoff, before giving up');
      const events = wd.incidents().map((i) => i.event);
      assert.deepEqual(events, ['stalled', 'restarted', 'restarted', 'restarted', 'escalated']);
      assert.deepEqual(alerts, [
        'watchdog.restarted',
        'watchdog.restarted',
        'watchdog.restarted',
        'watchdog.escalated',
      ]);
      // Once escalated, nothing more happens (the process is on its way out).
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(exits, [1]);
    } finally {
      wd.stop();
      dir.cleanup();
    }
  },
);
