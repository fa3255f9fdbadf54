// Fuzz of cmd: 7,000 random and mutated command payloads in-process (real PollerSet on a real simulator,
// real files), plus a sample over real MQTT. No crash; every payload answered; a parseable id is echoed
// in its ack. (Generators in fuzz-arbitraries.ts; config/set and trust/set in fuzz-config, fuzz-trust.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { validateConfig } from '../../agent/config/validate.js';
import { AuditLog } from '../../agent/audit/audit-log.js';
import { CommandService } from '../../agent/commands/command-service.js';
import { PollerSet } from '../../plc/poller/poller-set.js';
import { makeSigner } from './signer.js';
import { plcDoc, startHarness, startPlc } from './harness.js';
import {
  build,
  checkAck,
  claimsArb,
  expectedId,
  formArb,
  fuzzDir,
  logger,
  MAX_PAYLOAD,
  nearValidArb,
} from './fuzz-arbitraries.js';

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
