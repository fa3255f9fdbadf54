// End to end: our PLC simulator with known registers in every type and byte order + a real mosquitto
// + the real agent process → a subscriber receives the exact decoded values, ids and a rising seq.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpDir } from '../helpers/tmp.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import {
  collectMessages,
  onTeardown,
  startAgent,
  startGateway,
  type Message,
} from '../helpers/gateway-fixture.js';
import { be, ordered, type Order } from './expected-registers.js';

const ORDERS: Order[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

interface Case {
  tag: Record<string, unknown>;
  regs?: number[];
  bits?: { area: 'coil' | 'discrete'; value: boolean };
  expect: unknown;
}

function cases(): Case[] {
  const out: Case[] = [];
  let addr = 0;
  const add = (
    type: string,
    order: Order,
    raw: number | bigint,
    expect: unknown,
    extra: object = {},
  ) => {
    const regs = ordered(be(type, raw), order);
    out.push({
      tag: {
        name: `${type}_${order}`,
        area: 'holding',
        address: addr,
        type,
        byteOrder: order,
        ...extra,
      },
      regs,
      expect,
    });
    addr += regs.length;
  };
  for (const order of ORDERS) {
    add('int32', order, -123456789, -123456789);
    add('uint32', order, 4_000_000_000, 4_000_000_000);
    add('float32', order, 1.5, 1.5);
    add('int64', order, -9_007_199_254_740_991n, -9_007_199_254_740_991);
    add('uint64', order, 18_446_744_073_709_551_615n, '18446744073709551615');
    add('float64', order, Math.PI, Math.PI);
  }
  for (const order of ['ABCD', 'BADC'] as Order[]) {
    add('int16', order, -1234, -1234);
    add('uint16', order, 54321, 54321);
  }
  add('int16', 'ABCD', 1234, 123.4, { name: 'scaled', scale: 0.1 });
  add('int32', 'CDAB', 1000, 1500, { name: 'offset', scale: 0.5, offset: 1000 });
  // String "PLC-01" in 4 registers, high byte first; and byte-swapped.
  out.push({
    tag: { name: 'str_ABCD', area: 'holding', address: addr, type: 'string', length: 4 },
    regs: [0x504c, 0x432d, 0x3031, 0],
    expect: 'PLC-01',
  });
  addr += 4;
  out.push({
    tag: {
      name: 'str_BADC',
      area: 'holding',
      address: addr,
      type: 'string',
      length: 4,
      byteOrder: 'BADC',
    },
    regs: [0x4c50, 0x2d43, 0x3130, 0],
    expect: 'PLC-01',
  });
  addr += 4;
  out.push({
    tag: { name: 'bit3', area: 'holding', address: addr, type: 'bit', bit: 3 },
    regs: [0b1000],
    expect: true,
  });
  out.push({
    tag: { name: 'bit2', area: 'holding', address: addr, type: 'bit', bit: 2 },
    expect: false,
  });
  addr += 1;
  out.push({ tag: { name: 'in16', area: 'input', address: 7, type: 'int16' }, expect: -2 });
  out.push({
    tag: { name: 'coil5', area: 'coil', address: 5, type: 'bool' },
    bits: { area: 'coil', value: true },
    expect: true,
  });
  out.push({
    tag: { name: 'disc9', area: 'discrete', address: 9, type: 'bool' },
    bits: { area: 'discrete', value: true },
    expect: true,
  });
  return out;
}

test(
  'every type and byte order arrives decoded, with ids and a rising seq',
  { timeout: 60_000 },
  async (t) => {
    const all = cases();
    const gw = await startGateway(t, {
      id: 'gw-e2e',
      sims: 1,
      plcIds: ['conveyor-1'],
      move: false,
      plc: { groups: [{ intervalMs: 100, tags: all.map((c) => c.tag) }] },
      start: false,
    });
    const sim = gw.sims[0]!;
    const holding = sim.registers(1, 'holding');
    for (const c of all) {
      const addr = c.tag.address as number;
      if (c.regs)
        (c.tag.area === 'holding' ? holding : sim.registers(1, 'input')).set(c.regs, addr);
      if (c.bits) sim.registers(1, c.bits.area)[addr] = 1;
    }
    sim.registers(1, 'input')[7] = 0xfffe;
    const messages = () => gw.sub.json('/plc/conveyor-1/data');
    const retained = (topic: string) =>
      gw.sub.messages
        .filter((m: Message) => m.topic === topic && (m.retain || topic.endsWith('status')))
        .map((m) => JSON.parse(m.payload.toString()) as { state: string })
        .at(-1);
    const agent = await gw.startAgent();

    // A timeout shows what the agent printed.
    const until = gw.until;
    // The agent's start under tsx takes long on a loaded 2-core machine.
    await until(() => messages().length >= 1, 60_000, 'the first data message');
    const first = messages()[0]!;
    assert.equal(first.tenant, 'acme');
    assert.equal(first.gateway, 'gw-e2e');
    assert.equal(first.plc, 'conveyor-1');
    assert.equal(typeof first.seq, 'number');
    assert.ok(
      !Number.isNaN(Date.parse(first.ts as string)) && (first.ts as string).endsWith('Z'),
      'ts is ISO-8601 UTC',
    );
    const values = first.values as Record<string, unknown>;
    for (const c of all)
      assert.deepEqual(values[c.tag.name as string], c.expect, `tag ${c.tag.name as string}`);
    assert.deepEqual(first.quality, {});

    // Change two registers: the next message carries only the changes, with seq + 1 each time.
    holding[0] = 0;
    holding[1] = 42; // int32_ABCD = 42
    await until(
      () => messages().some((m) => (m.values as Record<string, unknown>).int32_ABCD === 42),
      5000,
      'the changed value',
    );
    const changed = messages().find(
      (m) => (m.values as Record<string, unknown>).int32_ABCD === 42,
    )!;
    assert.deepEqual(
      Object.keys(changed.values as object),
      ['int32_ABCD'],
      'report by exception: only the change',
    );
    const seqs = messages().map((m) => m.seq as number);
    for (let i = 1; i < seqs.length; i++)
      assert.equal(seqs[i], seqs[i - 1]! + 1, `seq rises by 1: ${seqs.join(',')}`);

    await until(() => !!retained('wms/acme/gw-e2e/plc/conveyor-1/status'), 5000, 'plc status');
    assert.equal(retained('wms/acme/gw-e2e/plc/conveyor-1/status')!.state, 'connected');
    assert.equal(retained('wms/acme/gw-e2e/status')!.state, 'online');

    // A clean stop: SIGTERM → exit 0 and the retained status says offline.
    const code = await agent.stop('SIGTERM');
    assert.equal(code, 0, agent.output().slice(-2000));
    await until(
      () => retained('wms/acme/gw-e2e/status')?.state === 'offline',
      5000,
      'offline status',
    );
  },
);

test(
  'the embedded default: npm start path prints how to watch the data and data flows',
  { timeout: 60_000 },
  async (t) => {
    const dir = tmpDir();
    onTeardown(t, dir.cleanup);
    const mqttPort = await freePort();
    const plcPort = await freePort();
    const agent = startAgent(t, {
      dataDir: dir.path,
      env: {
        EMBEDDED_MQTT_PORT: String(mqttPort),
        EMBEDDED_PLC_PORT: String(plcPort),
        HTTP_PORT: '0',
        GATEWAY_ID: 'demo-gw',
      },
    });
    const line = await agent.waitForOutput(/mosquitto_sub -h 127\.0\.0\.1 -p \d+ -t '[^']+' -v/);
    assert.match(line, new RegExp(`-p ${mqttPort} -t 'wms/demo/demo-gw/#'`));
    const sub = await collectMessages(
      t,
      `mqtt://127.0.0.1:${mqttPort}`,
      'wms/demo/demo-gw/plc/+/data',
      { clientId: 'demo-sub' },
    );
    await waitFor(() => sub.messages.length >= 3, 10_000, 'demo data').catch(() => undefined);
    const got = sub.json('/data');
    assert.ok(got.length >= 3, `demo data arrives (${got.length} messages)`);
    assert.ok(Object.keys(got[0]!.values as object).length > 5, 'the demo PLC has many tags');
    // Stopped while the subscriber is still connected (as a user's mosquitto_sub would be): a clean
    // exit, not the forced one (code 1) after the shutdown grace.
    assert.equal(await agent.stop('SIGINT'), 0, agent.output().slice(-2000));
    await sub.close();
  },
);
