// One spelling for every reason code on every reply topic: each family's list is kebab-case, the
// errors that produce the codes use the listed words, docs/reason-codes.md documents every one, and
// the running agent (`wms-gateway run`, real mosquitto and simulator) puts them on the wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.js';
import { startGateway } from '../helpers/gateway-fixture.js';
import { cmdId, makeSigner, nowSec } from './signer.js';
import { REJECTION_CODES, reasonCode, RejectedError } from '../../agent/commands/rejection.js';
import {
  describeError,
  RESULT_ERROR_CODES,
  StorageError,
} from '../../agent/commands/result-values.js';
import {
  errorCode,
  exceptionName,
  ModbusConnectionError,
  ModbusExceptionError,
  ModbusResponseError,
  ModbusTimeoutError,
  PLC_ERROR_CODES,
} from '../../plc/driver/errors.js';
import {
  CommandQueueFullError,
  TagNotWritableError,
  UnknownTagError,
} from '../../plc/poller/errors.js';
import { OTA_ERROR_REASONS } from '../../ota/device/state-store.js';
import { TRUST_REFUSALS } from '../../agent/trust/policy.js';
import { SIGNATURE_REASONS } from '../../platform/signature/errors.js';
import { CERT_STATE_ERRORS } from '../../agent/identity/reasons.js';

const KEBAB = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const families = {
  'cmd/ack, config/state': REJECTION_CODES,
  'cmd/result, plc status': RESULT_ERROR_CODES,
  'ota/state': OTA_ERROR_REASONS,
  'trust/state': TRUST_REFUSALS,
  'signatures (every topic)': SIGNATURE_REASONS,
  'cert/state': CERT_STATE_ERRORS,
};

test('every code of every family is kebab-case and in docs/reason-codes.md', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'reason-codes.md'), 'utf8');
  const documented = new Set([...doc.matchAll(/`([a-z0-9-]+)(?::[a-z]+)?`/g)].map((m) => m[1]!));
  for (const [family, codes] of Object.entries(families))
    for (const code of codes) {
      assert.match(code, KEBAB, `${family}: ${code}`);
      assert.ok(documented.has(code), `${family}: ${code} is not in docs/reason-codes.md`);
    }
  assert.ok(PLC_ERROR_CODES.every((c) => (RESULT_ERROR_CODES as readonly string[]).includes(c)));
});

test('the errors put the listed words on the wire', () => {
  const plcErrors = [
    new ModbusTimeoutError(1000),
    new ModbusConnectionError('closed'),
    new ModbusResponseError('short'),
    new ModbusExceptionError(2, 16),
    new UnknownTagError('p', 't'),
    new TagNotWritableError('p', 't'),
    new CommandQueueFullError('p', 4),
  ];
  assert.deepEqual(plcErrors.map(errorCode), [
    'timeout',
    'disconnected',
    'bad-response',
    'illegal-data-address',
    'unknown-tag',
    'not-writable',
    'queue-full',
  ]);
  for (const c of plcErrors.map(errorCode))
    assert.ok((PLC_ERROR_CODES as readonly string[]).includes(c), c);
  assert.equal(exceptionName(42), 'exception-42');
  assert.equal(errorCode(new Error('x')), 'error');
  assert.match(describeError(new ModbusTimeoutError(1000)), /^timeout: no answer within 1000 ms/);
  assert.match(describeError(new StorageError(new Error('disk full'))), /^storage-error: /);
  const r = new RejectedError('out-of-range', 'target', '1600 > max 1500');
  assert.equal(r.reason, 'out-of-range:target (1600 > max 1500)');
  assert.equal(reasonCode(r.reason), 'out-of-range');
});

test(
  'the running agent: cmd/ack, cmd/result and plc status carry the kebab-case codes',
  { timeout: 60_000 },
  async (t) => {
    const signer = await makeSigner('ES256', 'wms-1');
    const tags = [
      { name: 'target', area: 'holding', address: 0, type: 'int16', writable: true, max: 1500 },
      { name: 'far', area: 'holding', address: 2000, type: 'int16', writable: true },
    ];
    const gw = await startGateway(t, {
      id: 'gw-codes',
      sims: 1,
      plcIds: ['p1'],
      move: false,
      plc: { groups: [{ intervalMs: 200, tags }] },
      extra: { commands: { keys: [signer.publicJwk] } },
      start: false,
    });
    // The PLC refuses register 2000 (exception 2) for reads and writes alike.
    gw.sims[0]!.setFault({ area: 'holding', from: 2000, to: 2000, action: 'exception', code: 2 });
    await gw.startAgent();
    const got = () =>
      gw.sub.messages.flatMap((m) => {
        try {
          return [
            { topic: m.topic, json: JSON.parse(m.payload.toString()) as Record<string, unknown> },
          ];
        } catch {
          return []; // not ours
        }
      });
    let lastSent = 0;
    // 40 s: the agent's start under tsx takes long on a loaded 2-core machine.
    const until = (pred: () => boolean, what: string) => gw.until(pred, 40_000, what);
    const find = (topic: string, id: string) =>
      got().find((m) => m.topic === `wms/acme/gw-codes/${topic}` && m.json.id === id)?.json;
    await until(
      () => got().some((m) => m.topic.endsWith('/plc/p1/data')),
      'the first data message',
    );

    const send = async (values: Record<string, unknown>) => {
      const id = cmdId('codes');
      const claims = { id, plc: 'p1', op: 'write', values, iat: nowSec(), exp: nowSec() + 60 };
      await gw.sub.client.publishAsync('wms/acme/gw-codes/cmd', await signer.sign(claims), {
        qos: 1,
      });
      return id;
    };
    // The command service subscribes a moment after the first data message: until one command is
    // acked, send a fresh (harmless, rejected) one each second.
    let tooHigh = '';
    await until(() => {
      const acked = got().find((m) => m.topic.endsWith('/cmd/ack'))?.json;
      if (acked) tooHigh = String(acked.id);
      else if (Date.now() - lastSent > 1000) {
        lastSent = Date.now();
        void send({ target: 1600 });
      }
      return Boolean(acked);
    }, 'the ack of an out-of-range write');
    assert.equal(find('cmd/ack', tooHigh)!.status, 'rejected');
    assert.match(String(find('cmd/ack', tooHigh)!.reason), /^out-of-range:target \(/);

    const refused = await send({ far: 1 });
    await until(() => Boolean(find('cmd/result', refused)), 'the result of a refused write');
    assert.match(String(find('cmd/result', refused)!.error), /^illegal-data-address: /);

    // The polled read of `far` fails the same way: plc/p1/status names the code.
    await until(
      () =>
        got().some(
          (m) => m.topic.endsWith('/plc/p1/status') && m.json.error === 'illegal-data-address',
        ),
      'plc status error illegal-data-address',
    );
  },
);
