// Fuzz: ≥ 10,000 random and mutated command and config payloads. In-process for speed (real PollerSet on a
// real simulator, real files), plus a sample over real MQTT. No crash; every payload answered; a parseable
// id is echoed in its ack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { validateConfig } from '../../agent/config/validate.js';
import { AuditLog } from '../../agent/audit/audit-log.js';
import { CommandService, type Ack } from '../../agent/commands/command-service.js';
import { REJECTION_CODES, reasonCode } from '../../agent/commands/rejection.js';
import { RemoteConfigService } from '../../agent/remote-config/remote-config-service.js';
import { createLogger } from '../../platform/logger.js';
import { PollerSet } from '../../plc/poller/poller-set.js';
import { makeSigner, nowSec, type Signer } from './signer.js';
import { plcDoc, startHarness, startPlc } from './harness.js';

const logger = createLogger({ level: 'silent' });
const TAGS = [
  'target',
  'speed',
  'count',
  'label',
  'flag',
  'running',
  'temp',
  'ro',
  'far',
  'tick',
  'nope',
];
const MAX_PAYLOAD = 4096;

/** The fuzz is about parsing, not disks: its (real, fsynced) files go on tmpfs where there is one. */
function fuzzDir(): { path: string; cleanup: () => void } {
  const base = existsSync('/dev/shm') ? '/dev/shm' : (process.env.TMPDIR ?? '/tmp');
  const path = mkdtempSync(join(base, 'wmsgw-fuzz-'));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

const anyValue = fc.oneof(
  fc.integer({ min: -70_000, max: 70_000 }),
  fc.double(),
  fc.boolean(),
  fc.string({ maxLength: 12 }),
  fc.constant(null),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
  fc.anything({ maxDepth: 2 }),
);
const claimsArb = fc.record(
  {
    id: fc.oneof(
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.integer(),
      fc.constant(''),
      fc.anything({ maxDepth: 1 }),
    ),
    plc: fc.oneof(fc.constant('plc1'), fc.constant('nope'), fc.anything({ maxDepth: 1 })),
    op: fc.oneof(fc.constant('write'), fc.constant('read'), fc.string({ maxLength: 6 })),
    values: fc.oneof(
      fc.dictionary(fc.constantFrom(...TAGS), anyValue, { maxKeys: 4 }),
      fc.anything({ maxDepth: 1 }),
    ),
    tags: fc.oneof(
      fc.array(fc.constantFrom(...TAGS), { maxLength: 4 }),
      fc.anything({ maxDepth: 1 }),
    ),
    iat: fc.oneof(
      fc.constant(nowSec()),
      fc.integer({ min: nowSec() - 4000, max: nowSec() + 4000 }),
      fc.anything({ maxDepth: 0 }),
    ),
    exp: fc.oneof(
      fc.constant(nowSec() + 60),
      fc.integer({ min: nowSec() - 4000, max: nowSec() + 8000 }),
      fc.anything({ maxDepth: 0 }),
    ),
    nbf: fc.integer({ min: nowSec() - 100, max: nowSec() + 100 }),
  },
  { requiredKeys: [] },
);

/** Mostly-valid commands (so the fuzz also reaches the PLC), with random values and the odd wrong field. */
const nearValidArb = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 40 }),
    op: fc.constantFrom('write', 'write', 'read'),
    values: fc.dictionary(
      fc.constantFrom('target', 'speed', 'count', 'label', 'flag', 'running', 'far'),
      anyValue,
      { minKeys: 1, maxKeys: 3 },
    ),
    tags: fc.array(fc.constantFrom(...TAGS), { minLength: 1, maxLength: 4 }),
    small: fc.integer({ min: 0, max: 1500 }),
  })
  .map(({ id, op, values, tags, small }) => ({
    id,
    plc: 'plc1',
    op,
    ...(op === 'write' ? { values: small % 2 ? values : { target: small } } : { tags }),
    iat: nowSec(),
    exp: nowSec() + 60,
  }));

type Form =
  'signed' | 'other-key' | 'plain' | 'flip' | 'truncate' | 'swap' | 'bytes' | 'json' | 'big';
const formArb = fc.constantFrom<Form>(
  'signed',
  'signed',
  'other-key',
  'plain',
  'plain',
  'flip',
  'truncate',
  'swap',
  'bytes',
  'json',
  'big',
);

async function build(
  form: Form,
  claims: object,
  signer: Signer,
  other: Signer,
  rnd: number,
  raw: Uint8Array,
  json: unknown,
): Promise<Buffer> {
  const text = JSON.stringify(claims);
  switch (form) {
    case 'signed':
      return Buffer.from(await signer.sign(claims));
    case 'other-key':
      return Buffer.from(await other.sign(claims));
    case 'plain':
      return Buffer.from(text);
    case 'bytes':
      return Buffer.from(raw);
    case 'json':
      return Buffer.from(JSON.stringify(json) ?? 'null');
    case 'big':
      return Buffer.from(await signer.sign({ ...claims, pad: 'x'.repeat(MAX_PAYLOAD) }));
    default: {
      const jws = await signer.sign(claims);
      if (form === 'truncate') return Buffer.from(jws.slice(0, rnd % jws.length));
      if (form === 'swap') {
        const [a, b, c] = jws.split('.');
        return Buffer.from([b, a, c].join('.'));
      }
      const chars = [...jws];
      const i = rnd % chars.length;
      chars[i] = String.fromCharCode(32 + ((chars[i]!.charCodeAt(0) + rnd) % 95));
      return Buffer.from(chars.join(''));
    }
  }
}

/** The id a reader can get out of the payload without trusting it (what the ack must echo). */
function expectedId(buf: Buffer): string | number | null {
  const text = buf.toString('utf8').trim();
  let doc: unknown;
  try {
    doc = /^[\w-]+\.[\w-]*\.[\w-]+$/.test(text)
      ? JSON.parse(Buffer.from(text.split('.')[1]!, 'base64url').toString('utf8'))
      : JSON.parse(text);
  } catch {
    return null;
  }
  const id = (doc as { id?: unknown } | null)?.id;
  if (typeof id === 'string' && id.length > 0) return id;
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  return null;
}

function checkAck(ack: Ack, payload: Buffer): void {
  assert.deepEqual(
    ack.id,
    expectedId(payload),
    `ack ${JSON.stringify(ack)} for ${payload.toString().slice(0, 200)}`,
  );
  assert.ok(ack.status === 'accepted' || ack.status === 'rejected');
  if (ack.status === 'rejected')
    assert.ok((REJECTION_CODES as readonly string[]).includes(reasonCode(ack.reason!)), ack.reason);
}

test(
  'fuzz: 7,000 command payloads in-process, signed and demo-unsigned',
  { timeout: 240_000 },
  async (t) => {
    const dir = fuzzDir();
    t.after(dir.cleanup);
    const sim = await startPlc();
    t.after(() => sim.close());
    const signer = await makeSigner('ES256', 'k');
    const other = await makeSigner('EdDSA', 'k2');
    const config = validateConfig({
      commands: {
        keys: [signer.publicJwk, other.publicJwk],
        maxPayloadBytes: MAX_PAYLOAD,
        queueLength: 5,
      },
      plcs: [plcDoc('plc1', sim.port)],
    });
    const pollers = new PollerSet({ logger });
    await pollers.apply(config.plcs);
    t.after(() => pollers.stop());
    const audit = await AuditLog.open(join(dir.path, 'audit'), config.commands.audit);
    t.after(() => audit.close());
    const published: { topic: string; payload: unknown }[] = [];
    const link = {
      publishEvent: async (topic: string, payload: unknown) =>
        void published.push({ topic, payload }),
    };
    const open = (requireSignature: boolean) =>
      CommandService.create({
        settings: { ...config.commands, requireSignature },
        dataDir: join(dir.path, String(requireSignature)),
        pollers,
        link,
        audit,
        logger,
      });
    const services = { signed: await open(true), unsigned: await open(false) };
    let handled = 0;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        formArb,
        fc.oneof(claimsArb, nearValidArb),
        fc.nat(),
        fc.uint8Array({ maxLength: 200 }),
        fc.jsonValue({ maxDepth: 2 }),
        async (signed, form, claims, rnd, raw, json) => {
          const payload = await build(form, claims, signer, other, rnd, raw, json);
          const svc = signed ? services.signed : services.unsigned;
          const ack = await svc.handle(payload);
          handled++;
          if (ack.status === 'accepted') accepted++;
          checkAck(ack, payload);
        },
      ),
      { numRuns: 7000, seed: 4242 },
    );
    await services.signed.close();
    await services.unsigned.close();
    const acks = published.filter((p) => p.topic === 'cmd/ack').length;
    assert.equal(acks, handled, 'one ack per payload');
    const results = published.filter((p) => p.topic === 'cmd/result').length;
    assert.ok(
      results >= accepted,
      `every accepted command has a result (${results} ≥ ${accepted})`,
    );
    assert.ok(accepted > 50, `the fuzz reached execution (${accepted} accepted)`);
  },
);

test('fuzz: 3,000 config/set payloads in-process', { timeout: 240_000 }, async (t) => {
  const dir = fuzzDir();
  t.after(dir.cleanup);
  const signer = await makeSigner('EdDSA', 'cfg');
  const base = {
    commands: { keys: [signer.publicJwk] },
    wms: { urls: ['mqtt://127.0.0.1:1883'] },
    plcs: [plcDoc('plc1', 1502), plcDoc('plc2', 1503)],
  };
  const audit = await AuditLog.open(join(dir.path, 'audit'), { maxBytes: 1 << 20, files: 2 });
  t.after(() => audit.close());
  const states: unknown[] = [];
  let applied = 0;
  const svc = await RemoteConfigService.create({
    current: validateConfig(base),
    dataDir: dir.path,
    apply: async (c) => {
      applied++;
      if (c.plcs.some((p) => p.id === 'boom')) throw new Error('cannot start PLC boom');
    },
    link: { publishRetained: (_t, p) => void states.push(p) },
    audit,
    logger,
  });
  // Mutate the base document at a random path with a random value (or delete the field).
  const paths: (string | number)[][] = [
    ['plcs', 0, 'transport', 'port'],
    ['plcs', 0, 'groups', 0, 'tags', 0, 'type'],
    ['plcs', 0, 'groups', 0, 'tags', 1, 'byteOrder'],
    ['plcs', 1, 'id'],
    ['plcs', 1, 'unitId'],
    ['wms', 'urls'],
    ['wms', 'qos'],
    ['commands', 'keys'],
    ['commands', 'clockToleranceSeconds'],
    ['gateway'],
    ['version'],
    ['exp'],
    ['extra'],
  ];
  let handled = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('mutate', 'mutate', 'mutate', 'valid', 'bytes', 'unsigned', 'flip'),
      fc.constantFrom(...paths),
      fc.oneof(fc.anything({ maxDepth: 2 }), fc.constant(undefined), fc.constant('boom')),
      fc.uint8Array({ maxLength: 300 }),
      fc.nat(),
      async (form, path, value, raw, rnd) => {
        const doc = structuredClone(base) as Record<string, unknown>;
        if (form === 'mutate') {
          let o = doc as Record<string | number, unknown>;
          for (const k of path.slice(0, -1)) o = (o[k] ?? {}) as Record<string | number, unknown>;
          if (value === undefined) delete o[path.at(-1)!];
          else o[path.at(-1)!] = value;
        }
        let payload: Buffer;
        if (form === 'bytes') payload = Buffer.from(raw);
        else if (form === 'unsigned') payload = Buffer.from(JSON.stringify(doc));
        else {
          const jws = await signer.sign(doc);
          payload = Buffer.from(
            form === 'flip'
              ? jws.slice(0, rnd % jws.length) + 'A' + jws.slice((rnd % jws.length) + 1)
              : jws,
          );
        }
        const before = states.length;
        const st = await svc.handle(payload);
        handled++;
        assert.equal(states.length, before + 1, 'every config/set publishes config/state');
        assert.ok(['applied', 'rejected', 'rolled_back'].includes(st.status), st.status);
        if (st.status !== 'applied')
          assert.ok(
            (st.error && (REJECTION_CODES as readonly string[]).includes(reasonCode(st.error))) ||
              st.status === 'rolled_back',
            st.error,
          );
      },
    ),
    { numRuns: 3000, seed: 99 },
  );
  assert.equal(handled, 3000);
  assert.ok(applied > 10, `the fuzz reached apply (${applied})`);
});

test(
  'fuzz sample over MQTT: every payload with a parseable id gets its ack',
  { timeout: 120_000 },
  async (t) => {
    const h = await startHarness({ commands: { maxPayloadBytes: MAX_PAYLOAD } });
    t.after(() => h.stop());
    const other = await makeSigner('EdDSA', 'k2');
    const samples = fc.sample(
      fc.tuple(
        formArb,
        fc.oneof(claimsArb, nearValidArb),
        fc.nat(),
        fc.uint8Array({ maxLength: 200 }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      { numRuns: 300, seed: 7 },
    );
    const expected: (string | number)[] = [];
    let anonymous = 0;
    for (const [i, [form, claims, rnd, raw, json]] of samples.entries()) {
      // A unique id where the sample has one, so each ack can be matched to its payload.
      const c = 'id' in claims ? { ...claims, id: `fz-${i}` } : claims;
      const payload = await build(form, c, h.signer, other, rnd, raw, json);
      const id = expectedId(payload);
      if (id === null) anonymous++;
      else expected.push(id);
      await h.send('cmd', payload);
    }
    for (const id of expected)
      await h.waitFor((m) => m.topic === 'cmd/ack' && m.json.id === id, 10_000, `ack of ${id}`);
    await h.waitFor(
      () =>
        h.messages.filter((m) => m.topic === 'cmd/ack' && m.json.id === null).length >= anonymous,
      10_000,
      'anonymous acks',
    );
  },
);
