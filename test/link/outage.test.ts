// The link loses nothing: a 20-s broker outage while 3 PLCs produce every 100 ms, and a kill -9 of the
// producer in the middle of an outage. A subscriber with a persistent session checks every seq arrives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from '../helpers/tmp.js';
import { collect, gapsAndDisorder, persistentBroker } from './collector.js';
import { waitFor } from '../helpers/wait.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'producer.ts');
const PLCS = ['plc-a', 'plc-b', 'plc-c'];

interface Producer {
  proc: ChildProcess;
  last:
    | { produced: Record<string, number>; connected: boolean; outbox: { messages: number } }
    | undefined;
  exited: Promise<void>;
}

function startProducer(dataDir: string, url: string): Producer {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      WMS_URLS: url,
      PLCS: PLCS.join(','),
      INTERVAL_MS: '100',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const p: Producer = {
    proc,
    last: undefined,
    exited: new Promise((r) => proc.once('close', () => r())),
  };
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      const j = JSON.parse(l) as Record<string, unknown>;
      if (j.produced) p.last = j as unknown as Producer['last'];
    }
  });
  return p;
}

function assertComplete(seqs: Map<string, number[]>, expected: Record<string, number>): void {
  for (const plc of PLCS) {
    const got = seqs.get(plc) ?? [];
    assert.deepEqual(gapsAndDisorder(got), [], `${plc}: in order, no gaps`);
    assert.equal(Math.max(...got), expected[plc], `${plc}: every produced seq arrived`);
  }
}

test(
  'a 20-s broker outage: every seq of every PLC arrives, in order, no gaps',
  { timeout: 90_000 },
  async () => {
    const { broker, cleanup, saved } = await persistentBroker();
    const data = tmpDir();
    const sub = await collect(broker.url, 'wms/t1/gw1/plc/+/data', {
      clientId: 'collector-1',
      clean: false,
    });
    const prod = startProducer(data.path, broker.url);
    try {
      await waitFor(() => !!prod.last?.connected, 15_000, 'producer connected');
      await saved(); // the subscriber's session is on the broker's disk
      await broker.stop();
      const down = Date.now();
      // 20 s at 3 PLCs x 10 readings/s: 600 readings produced, all of them kept in the outbox.
      await waitFor(
        () => Date.now() - down >= 20_000 && (prod.last?.outbox.messages ?? 0) > 400,
        40_000,
        `a 20-s outage with over 400 readings buffered (${prod.last?.outbox.messages})`,
      );
      await broker.start();
      await waitFor(
        () => !!prod.last?.connected && prod.last.outbox.messages === 0,
        20_000,
        'backlog drained',
      );
      prod.proc.kill('SIGTERM');
      await prod.exited;
      const final = prod.last!.produced;
      await waitFor(
        () => PLCS.every((p) => Math.max(...(sub.seqs.get(p) ?? [0])) >= final[p]!),
        10_000,
        'subscriber caught up',
      );
      assertComplete(sub.seqs, final);
    } finally {
      prod.proc.kill('SIGKILL');
      await sub.close();
      await broker.stop();
      data.cleanup();
      cleanup();
    }
  },
);

test(
  'kill -9 of the producer during an outage: no gaps after its restart, seq keeps rising',
  { timeout: 90_000 },
  async () => {
    const { broker, cleanup, saved } = await persistentBroker();
    const data = tmpDir();
    const sub = await collect(broker.url, 'wms/t1/gw1/plc/+/data', {
      clientId: 'collector-2',
      clean: false,
    });
    let prod = startProducer(data.path, broker.url);
    try {
      await waitFor(() => !!prod.last?.connected, 15_000, 'producer connected');
      await saved();
      await broker.stop();
      await waitFor(
        () => (prod.last?.outbox.messages ?? 0) >= 60,
        20_000,
        'readings buffered during the outage',
      );
      const before = prod.last!.produced;
      prod.proc.kill('SIGKILL');
      await prod.exited;
      prod = startProducer(data.path, broker.url);
      await waitFor(
        () => !!prod.last && prod.last.outbox.messages > 0,
        15_000,
        'restarted producer replays its outbox',
      );
      // The restarted producer buffers new readings on top of the old ones before the broker is back.
      const reopened = prod.last!.outbox.messages;
      await waitFor(
        () => prod.last!.outbox.messages >= reopened + 30,
        20_000,
        'new readings buffered after the restart',
      );
      await broker.start();
      await waitFor(
        () => !!prod.last?.connected && prod.last.outbox.messages === 0,
        20_000,
        'backlog drained',
      );
      prod.proc.kill('SIGTERM');
      await prod.exited;
      const seqsAfter = prod.last!.produced; // counts of the second run only
      await waitFor(
        () =>
          PLCS.every((p) => Math.max(...(sub.seqs.get(p) ?? [0])) >= before[p]! + seqsAfter[p]!),
        10_000,
        'subscriber caught up',
      );
      for (const plc of PLCS) {
        const got = sub.seqs.get(plc) ?? [];
        const max = Math.max(...got);
        assert.ok(
          max >= before[plc]! + seqsAfter[plc]!,
          `${plc}: seq kept rising across the crash (max ${max})`,
        );
        assert.deepEqual(gapsAndDisorder(got), [], `${plc}: in order, no gaps`);
      }
    } finally {
      prod.proc.kill('SIGKILL');
      await sub.close();
      await broker.stop();
      data.cleanup();
      cleanup();
    }
  },
);
