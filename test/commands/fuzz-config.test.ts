// Fuzz of config/set: 3,000 mutated, unsigned, mis-signed and raw remote configs in-process. No crash;
// every payload answered on config/state with a listed code; a key sneaked in is refused and the keys
// in force never change; some get through to apply. (Generators in fuzz-arbitraries.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { validateConfig } from '../../agent/config/validate.js';
import { AuditLog } from '../../agent/audit/audit-log.js';
import { REJECTION_CODES, reasonCode } from '../../agent/commands/rejection.js';
import { RemoteConfigService } from '../../agent/remote-config/remote-config-service.js';
import { makeSigner } from './signer.js';
import { plcDoc } from './harness.js';
import { fuzzDir, logger } from './fuzz-arbitraries.js';

test('fuzz: 3,000 config/set payloads in-process', { timeout: 240_000 }, async (t) => {
  const dir = fuzzDir();
  t.after(dir.cleanup);
  const signer = await makeSigner('EdDSA', 'cfg');
  const intruder = await makeSigner('ES256', 'intruder');
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
      fc.constantFrom('mutate', 'mutate', 'mutate', 'valid', 'bytes', 'unsigned', 'flip', 'sneak'),
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
        // A key sneaked in by a field that holds keys or roots: refused, whatever else the config says.
        const sneak = form === 'sneak' ? ['commands', 'ota', 'trust'][rnd % 3]! : undefined;
        if (sneak === 'commands') doc.commands = { keys: [signer.publicJwk, intruder.publicJwk] };
        if (sneak === 'ota') doc.ota = { keys: [intruder.publicJwk] };
        if (sneak === 'trust') doc.trust = { roots: [intruder.publicJwk] };
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
        if (sneak) assert.match(String(st.error), /^trust-change-needs-root/);
        assert.deepEqual(
          svc.config.commands.keys,
          [signer.publicJwk],
          'the keys in force never change',
        );
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
