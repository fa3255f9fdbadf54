// Fuzz of trust/set: 2,000 random and mutated trust policies in-process, signed by the roots, a
// stranger and an impostor. No crash; every payload answered with a listed refusal or applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { validateConfig } from '../../agent/config/validate.js';
import { AuditLog } from '../../agent/audit/audit-log.js';
import { makeSigner, nowSec } from './signer.js';
import { TrustService, type TrustState } from '../../agent/trust/trust-service.js';
import { TRUST_REFUSALS } from '../../agent/trust/policy.js';
import { signPolicy } from '../../agent/trust/publisher.js';
import { makeRoot } from '../trust/trust-fixtures.js';
import { fuzzDir, logger } from './fuzz-arbitraries.js';

test('fuzz: 2,000 trust/set payloads in-process', { timeout: 240_000 }, async (t) => {
  const dir = fuzzDir();
  t.after(dir.cleanup);
  const root = await makeRoot('root-1');
  const root2 = await makeRoot('root-2');
  const stranger = await makeRoot('stranger');
  const impostor = await makeRoot('root-1');
  const wms = await makeSigner('ES256', 'wms-1');
  const audit = await AuditLog.open(join(dir.path, 'audit'), { maxBytes: 1 << 20, files: 2 });
  t.after(() => audit.close());
  const states: TrustState[] = [];
  const svc = await TrustService.create({
    config: validateConfig({ trust: { roots: [root.publicJwk, root2.publicJwk] } }),
    dataDir: dir.path,
    link: { publishRetained: (_t, p) => void states.push(p as TrustState) },
    audit,
    logger,
  });
  t.after(() => svc.stop());
  const signers = { root, root2, stranger, impostor } as const;
  const keyArb = fc.record(
    {
      kid: fc.oneof(fc.constant('wms-1'), fc.constant('root-1'), fc.string({ maxLength: 8 })),
      jwk: fc.oneof(
        fc.constant(wms.publicJwk as unknown),
        fc.constant(root.privateJwk as unknown),
        fc.constant({ kty: 'oct', k: 'AA' } as unknown),
        fc.anything({ maxDepth: 1 }),
      ),
      roles: fc.oneof(
        fc.subarray(['commands', 'config', 'ota', 'identity']),
        fc.anything({ maxDepth: 1 }),
      ),
      plcs: fc.option(fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }), { nil: undefined }),
      exp: fc.option(fc.integer({ min: nowSec() - 1000, max: nowSec() + 1_000_000 }), {
        nil: undefined,
      }),
    },
    { requiredKeys: ['kid', 'jwk', 'roles'] },
  );
  const policyArb = fc.record(
    {
      version: fc.oneof(fc.integer({ min: -1, max: 3000 }), fc.anything({ maxDepth: 0 })),
      iat: fc.oneof(
        fc.constant(nowSec()),
        fc.integer({ min: nowSec() - 10_000, max: nowSec() + 10_000 }),
      ),
      exp: fc.oneof(
        fc.constant(nowSec() + 86_400),
        fc.integer({ min: nowSec() - 10_000, max: nowSec() + 10_000 }),
      ),
      keys: fc.oneof(fc.array(keyArb, { maxLength: 3 }), fc.anything({ maxDepth: 1 })),
      revoked: fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }),
      roots: fc.constant(undefined),
      threshold: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    },
    { requiredKeys: ['version', 'iat', 'exp'] },
  );
  let applied = 0;
  let lastVersion = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('valid', 'signed', 'signed', 'two', 'other', 'bytes', 'flip', 'big', 'array'),
      fc.constantFrom('root', 'root2', 'stranger', 'impostor'),
      policyArb,
      fc.uint8Array({ maxLength: 200 }),
      fc.nat(),
      async (form, who, doc, raw, rnd) => {
        const valid = {
          version: lastVersion + 1 + (rnd % 3),
          iat: nowSec(),
          exp: nowSec() + 86_400,
          keys: [{ kid: 'wms-1', jwk: wms.publicJwk, roles: ['commands'], plcs: ['plc*'] }],
          revoked: [],
        };
        const body = JSON.stringify(form === 'valid' ? valid : doc);
        let payload: string;
        if (form === 'bytes') payload = Buffer.from(raw).toString('latin1');
        else if (form === 'array') payload = JSON.stringify([body, rnd]);
        else if (form === 'two' || form === 'valid')
          payload = await signPolicy(body, [root.privateJwk, root2.privateJwk]);
        else if (form === 'big')
          payload = await signPolicy({ ...doc, pad: 'x'.repeat(70_000) }, [root.privateJwk]);
        else {
          const signer = form === 'other' ? signers[who] : root;
          const jws = await signPolicy(body, [signer.privateJwk]);
          payload =
            form === 'flip'
              ? jws.slice(0, rnd % jws.length) + 'A' + jws.slice((rnd % jws.length) + 1)
              : jws;
        }
        const before = svc.state;
        const n = states.length;
        const st = await svc.handle(payload);
        assert.equal(states.length, n + 1, 'every trust/set is answered on trust/state');
        if (form === 'valid') assert.equal(st.status, 'applied', st.error);
        if (st.status === 'applied') {
          applied++;
          assert.ok(st.version > lastVersion, 'versions only rise');
          lastVersion = st.version;
        } else {
          assert.equal(st.status, 'rejected');
          assert.ok(
            (TRUST_REFUSALS as readonly string[]).includes(String(st.error).split(' ')[0]!),
            st.error,
          );
          assert.equal(st.version, before.version, 'a refusal changes nothing in force');
          assert.equal(st.sha256, before.sha256);
          assert.deepEqual(st.keys, before.keys);
        }
      },
    ),
    { numRuns: 2000, seed: 12 },
  );
  assert.ok(applied > 50, `the fuzz applied policies too (${applied})`);
});
