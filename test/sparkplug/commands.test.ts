// DCMD through the running agent with sparkplug.commands: true. A write by name and one by alias reach
// the simulator's registers (through the commands service's checks) and come back as DDATA; an int64
// write is exact; a read-only tag, an out-of-range value, an unknown device or metric and a malformed
// payload are refused with an alert each, nothing is written, and the node keeps running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP, NODE, byName, num, startRig, tahu } from './harness.js';

const DEVICE = 'press-2';
const dcmdTopic = (device: string) => `spBv1.0/${GROUP}/DCMD/${NODE}/${device}`;
const dcmd = (metrics: object[]) =>
  Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics }));

test(
  'DCMD writes pass the commands checks; bad ones are refused with alerts',
  { timeout: 300_000 },
  async (t) => {
    const rig = await startRig({
      sparkplug: { commands: true },
      plcs: (port) => [
        {
          id: DEVICE,
          transport: { type: 'tcp', host: '127.0.0.1', port },
          groups: [
            {
              intervalMs: 50,
              tags: [
                {
                  name: 'target',
                  area: 'holding',
                  address: 0,
                  type: 'int16',
                  writable: true,
                  min: 0,
                  max: 1500,
                },
                { name: 'ro', area: 'holding', address: 1, type: 'uint16' },
                { name: 'big', area: 'holding', address: 2, type: 'int64', writable: true },
                { name: 'run', area: 'coil', address: 0, type: 'bool', writable: true },
              ],
            },
          ],
        },
      ],
    });
    t.after(() => rig.close());
    const holding = rig.sim.registers(1, 'holding');
    const coils = rig.sim.registers(1, 'coil');
    holding[1] = 11;

    await rig.until(() => rig.ofType('DBIRTH', DEVICE).length > 0, 90_000, 'the DBIRTH');
    const birth = byName(rig.ofType('DBIRTH', DEVICE)[0]!.payload);
    const runAlias = birth.get('run')!.alias;

    // By name, and by alias: both reach the PLC.
    await rig.publish(dcmdTopic(DEVICE), dcmd([{ name: 'target', type: 'Int16', value: 1200 }]));
    await rig.publish(dcmdTopic(DEVICE), dcmd([{ alias: runAlias, type: 'Boolean', value: true }]));
    await rig.until(() => holding[0] === 1200 && coils[0] === 1, 30_000, 'the writes on the PLC');
    const targetAlias = num(birth.get('target')!.alias);
    await rig.until(
      () =>
        rig
          .ofType('DDATA', DEVICE)
          .some((m) =>
            m.payload.metrics.some((x) => num(x.alias) === targetAlias && x.value === 1200),
          ),
      30_000,
      'the written value back as DDATA',
    );

    // int64 beyond 2^53 arrives exact (two's complement in long_value).
    await rig.publish(
      dcmdTopic(DEVICE),
      dcmd([{ name: 'big', type: 'Int64', value: '-9007199254740993' }]),
    );
    const int64At2 = () =>
      BigInt.asIntN(
        64,
        Array.from(holding.slice(2, 6)).reduce((acc, w) => (acc << 16n) | BigInt(w), 0n),
      );
    await rig.until(() => int64At2() === -9_007_199_254_740_993n, 30_000, 'the exact int64 write');

    // Refusals, each with its own alert reason; nothing is written.
    const refused = (reason: string) =>
      rig.alerts.some((a) => a.code === 'sparkplug.dcmd-refused' && a.reason === reason);
    await rig.publish(dcmdTopic(DEVICE), dcmd([{ name: 'ro', type: 'UInt16', value: 99 }]));
    await rig.publish(dcmdTopic(DEVICE), dcmd([{ name: 'target', type: 'Int16', value: 2000 }]));
    await rig.publish(
      dcmdTopic('no-such-plc'),
      dcmd([{ name: 'target', type: 'Int16', value: 1 }]),
    );
    await rig.publish(dcmdTopic(DEVICE), dcmd([{ name: 'nope', type: 'Int16', value: 1 }]));
    await rig.publish(dcmdTopic(DEVICE), Buffer.from('{"not":"protobuf"}'));
    for (const reason of [
      'not-writable',
      'out-of-range',
      'unknown-device',
      'unknown-tag',
      'malformed',
    ])
      await rig.until(() => refused(reason), 30_000, `the ${reason} alert`);
    assert.equal(holding[1], 11, 'the read-only tag is untouched');
    assert.equal(holding[0], 1200, 'the out-of-range value was not written');

    // Still running: one more good write goes through.
    await rig.publish(dcmdTopic(DEVICE), dcmd([{ name: 'target', type: 'Int16', value: 7 }]));
    await rig.until(() => holding[0] === 7, 30_000, 'a write after the refusals');
    assert.equal(rig.agent.exitCode, null);
  },
);
