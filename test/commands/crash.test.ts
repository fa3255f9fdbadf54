// kill -9 of the agent: a command that ran is not run again after the restart (the replay cache is on
// disk), and its duplicate gets the earlier result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { waitForOutput, ROOT } from '../helpers/cli.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitForValue } from '../helpers/wait.js';
import { ModbusRTU } from '../../plc/driver/modbus-serial.js';
import { plcDoc, startPlc } from './harness.js';
import { cmdId, makeSigner, nowSec } from './signer.js';

const CHILD = join(ROOT, 'test', 'commands', 'fixtures', 'agent-child.ts');

test(
  'after kill -9 and a restart, the same command writes nothing and returns the earlier result',
  { timeout: 120_000 },
  async (t) => {
    const dir = tmpDir();
    t.after(dir.cleanup);
    const broker = await startMosquitto({ extra: 'set_tcp_nodelay true' });
    t.after(() => broker.stop());
    const sim = await startPlc();
    t.after(() => sim.close());
    const signer = await makeSigner('EdDSA', 'wms');
    const config = {
      gateway: { tenant: 't', id: 'g' },
      wms: { urls: [broker.url], reconnect: { minMs: 50, maxMs: 500 } },
      commands: { keys: [signer.publicJwk] },
      plcs: [plcDoc('plc1', sim.port)],
    };
    let child: ChildProcess | undefined;
    t.after(() => child?.kill('SIGKILL'));
    const startChild = async () => {
      child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          LOG_JSON: '1',
          DATA_DIR: dir.path,
          GATEWAY_CONFIG_JSON: JSON.stringify(config),
        },
      });
      let err = '';
      child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
      child.once('exit', (code) => {
        if (code) process.stderr.write(`agent child exited with ${code}: ${err}\n`);
      });
      await waitForOutput(child, /ready/, 45_000); // tsx start-up on a loaded machine
    };
    const wms = await mqtt.connectAsync(broker.url);
    t.after(() => wms.endAsync(true));
    const seen: { topic: string; json: Record<string, unknown> }[] = [];
    wms.on('message', (topic, p) => {
      try {
        seen.push({ topic: topic.slice('wms/t/g/'.length), json: JSON.parse(p.toString()) });
      } catch {
        /* not ours */
      }
    });
    await wms.subscribeAsync('wms/t/g/cmd/#', { qos: 1 });
    const waitFor = (pred: (m: (typeof seen)[number]) => boolean, label: string) =>
      waitForValue(
        () => `${label}; seen ${JSON.stringify(seen.slice(-4))}`,
        () => seen.find(pred),
        15_000,
      );

    await startChild();
    const id = cmdId('crash');
    const jws = await signer.sign({
      id,
      plc: 'plc1',
      op: 'write',
      values: { target: 900 },
      iat: nowSec(),
      exp: nowSec() + 120,
    });
    // Until the gateway answers (its subscription may lag "ready"); a second copy would be a duplicate.
    for (let i = 0; i < 20 && !seen.some((m) => m.topic === 'cmd/ack' && m.json.id === id); i++) {
      await wms.publishAsync('wms/t/g/cmd', jws, { qos: 1 });
      await new Promise((r) => setTimeout(r, 250));
    }
    const first = await waitFor(
      (m) => m.topic === 'cmd/result' && m.json.id === id,
      'first result',
    );
    assert.equal(first.json.status, 'ok');

    const killed = new Promise((r) => child!.once('exit', r));
    child!.kill('SIGKILL');
    await killed;
    const mb = new ModbusRTU();
    await mb.connectTCP('127.0.0.1', { port: sim.port });
    mb.setID(1);
    t.after(() => new Promise<void>((r) => mb.close(() => r())));
    await mb.writeRegister(20, 11); // the PLC moved on while the gateway was down

    await startChild();
    const mark = seen.length; // only what the restarted gateway says counts from here
    const after = () => seen.slice(mark);
    // The restarted gateway's subscription may lag its "ready": resend the same JWS until answered.
    for (let i = 0; i < 20 && !after().some((m) => m.topic === 'cmd/ack'); i++) {
      await wms.publishAsync('wms/t/g/cmd', jws, { qos: 1 });
      await new Promise((r) => setTimeout(r, 250));
    }
    const dup = await waitFor(
      (m) => seen.indexOf(m) >= mark && m.topic === 'cmd/ack' && m.json.id === id,
      'ack after the restart',
    );
    assert.deepEqual(dup.json, { id, status: 'accepted', note: 'duplicate' });
    const resent = await waitFor(
      (m) => seen.indexOf(m) >= mark && m.topic === 'cmd/result' && m.json.id === id,
      're-sent result',
    );
    assert.deepEqual(resent.json, first.json, 'the earlier result, ts included');
    // Commands to one PLC run in order: once a read sent after the duplicate has its result, a write
    // the duplicate might have caused would already have happened.
    const readId = cmdId('crash-read');
    const read = await signer.sign({
      id: readId,
      plc: 'plc1',
      op: 'read',
      tags: ['target'],
      iat: nowSec(),
      exp: nowSec() + 60,
    });
    await wms.publishAsync('wms/t/g/cmd', read, { qos: 1 });
    const readResult = await waitFor(
      (m) => m.topic === 'cmd/result' && m.json.id === readId,
      'the result of a later read',
    );
    assert.deepEqual(readResult.json.values, { target: 11 }, 'not written again (gateway read)');
    assert.deepEqual((await mb.readHoldingRegisters(20, 1)).data, [11], 'not written again');
    // A replay with other content under the same id is still refused after the crash.
    await wms.publishAsync(
      'wms/t/g/cmd',
      await signer.sign({
        id,
        plc: 'plc1',
        op: 'write',
        values: { target: 1 },
        iat: nowSec(),
        exp: nowSec() + 60,
      }),
      { qos: 1 },
    );
    const replay = await waitFor(
      (m) => m.topic === 'cmd/ack' && m.json.id === id && m.json.status === 'rejected',
      'replayed ack',
    );
    assert.match(String(replay.json.reason), /^replayed:/);
  },
);
