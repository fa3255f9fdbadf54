// The running agent against a Modbus TCP gateway we did not write (Debian's python3-pymodbus) with
// three units and a silent fourth behind one host:port: one connection, exact values per unit over
// MQTT, and the silent unit's retained status says why instead of `connected`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PYMODBUS_TAGS, pymodbusValues, startPymodbus } from '../helpers/pymodbus.js';
import { sleep } from '../helpers/wait.js';
import { onTeardown, startGateway } from '../helpers/gateway-fixture.js';

test(
  'agent: four PLCs behind one pymodbus endpoint use one connection; the silent one is reported as such',
  { timeout: 120_000 },
  async (t) => {
    const server = await startPymodbus([1, 2, 3]);
    onTeardown(t, () => server.stop());
    const ids = ['press-1', 'press-2', 'press-3', 'press-4'];
    const gw = await startGateway(t, {
      id: 'gw-shared',
      extra: {
        plcs: ids.map((id, i) => ({
          id,
          transport: { type: 'tcp', host: '127.0.0.1', port: server.port },
          unitId: i + 1,
          timeoutMs: 300,
          tcpPipeline: 2,
          reconnect: { minMs: 200, maxMs: 2000 },
          groups: [{ intervalMs: 100, tags: PYMODBUS_TAGS }],
        })),
      },
      collect: 'wms/acme/gw-shared/plc/#',
    });
    const plcOf = (topic: string, kind: string) =>
      new RegExp(`^wms/acme/gw-shared/plc/([^/]+)/${kind}$`).exec(topic)?.[1];
    const first = (id: string, kind: 'data' | 'status', last = false) => {
      const all = gw.sub.messages.filter((m) => plcOf(m.topic, kind) === id);
      const m = last ? all.at(-1) : all[0];
      return m && (JSON.parse(m.payload.toString()) as Record<string, unknown>);
    };
    const data = {
      has: (id: string) => !!first(id, 'data'),
      get: (id: string) => first(id, 'data'),
    };
    const status = {
      get: (id: string) =>
        first(id, 'status', true) as { state: string; error?: string } | undefined,
    };
    const ghostStates = () =>
      gw.sub.messages
        .filter((m) => plcOf(m.topic, 'status') === 'press-4')
        .map((m) => (JSON.parse(m.payload.toString()) as { state: string }).state);
    const until = gw.until;

    await until(
      () => ids.slice(0, 3).every((id) => data.has(id)),
      60_000, // the agent's start under tsx takes long on a loaded 2-core machine
      'data from the three present units',
    );
    for (const [i, id] of ids.slice(0, 3).entries()) {
      assert.deepEqual(data.get(id)!.values, pymodbusValues(i + 1), id);
      assert.deepEqual(data.get(id)!.quality, {}, id);
    }
    await until(
      () => /unit 4 does not answer/.test(status.get('press-4')?.error ?? ''),
      10_000,
      'the silent unit status',
    );
    const ghost = status.get('press-4')!;
    assert.equal(ghost.state, 'disconnected');
    assert.match(ghost.error!, /^timeout: /);
    for (const id of ids.slice(0, 3)) assert.equal(status.get(id)?.state, 'connected', id);
    // It stays so: never `connected` just because the TCP connection is up.
    await sleep(1500);
    assert.equal(status.get('press-4')!.state, 'disconnected');
    assert.ok(!ghostStates().includes('connected'), `press-4 states: ${ghostStates().join(',')}`);
    assert.equal(server.total(), 1, 'one TCP connection for the four PLCs');
    assert.equal(server.open(), 1);
  },
);
