// Key set and JWS verification: the right key by kid, algorithms pinned per key, every refusal named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompactSign, exportJWK, generateKeyPair } from 'jose';
import { KeySet, isKeyError } from '../../agent/commands/key-set.js';
import { verifyCompactJws } from '../../agent/commands/verify-jws.js';
import { isRejectedError, reasonCode } from '../../agent/commands/rejection.js';
import { makeSigner } from './signer.js';

async function rejects(p: Promise<unknown>, code: string): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(isRejectedError(e), `expected a RejectedError, got ${String(e)}`);
    assert.equal(reasonCode(e.reason), code, e.reason);
    return e.reason;
  }
  assert.fail(`expected ${code}`);
}

test(
  'ES256 and EdDSA commands verify with the key their kid names',
  { timeout: 10_000 },
  async () => {
    const es = await makeSigner('ES256', 'wms-es');
    const ed = await makeSigner('EdDSA', 'wms-ed');
    const keys = await KeySet.load([es.publicJwk, ed.publicJwk]);
    for (const s of [es, ed]) {
      const v = await verifyCompactJws(await s.sign({ id: 'x' }), keys);
      assert.equal(v.kid, s.kid);
      assert.deepEqual(JSON.parse(Buffer.from(v.payload).toString()), { id: 'x' });
    }
  },
);

test('a key without kid is known by its RFC 7638 thumbprint', { timeout: 10_000 }, async () => {
  const s = await makeSigner('EdDSA', 'ignored');
  const { kid: _kid, ...noKid } = s.publicJwk;
  const keys = await KeySet.load([noKid]);
  const { calculateJwkThumbprint } = await import('jose');
  const tp = await calculateJwkThumbprint(noKid);
  assert.ok(keys.get(tp));
  const v = await verifyCompactJws(await s.sign({ id: 1 }, { kid: tp }), keys);
  assert.equal(v.kid, tp);
});

test('refusals: unknown-key, bad-signature, bad-alg, malformed', { timeout: 10_000 }, async () => {
  const good = await makeSigner('ES256', 'k1');
  const impostor = await makeSigner('ES256', 'k1'); // same kid, other private key
  const keys = await KeySet.load([good.publicJwk]);
  await rejects(
    verifyCompactJws(await good.sign({ id: 'a' }, { kid: 'nope' }), keys),
    'unknown-key',
  );
  await rejects(
    verifyCompactJws(await good.sign({ id: 'a' }, { kid: undefined }), keys),
    'unknown-key',
  );
  await rejects(verifyCompactJws(await impostor.sign({ id: 'a' }), keys), 'bad-signature');
  // Tampered payload: signature of one payload with another's bytes.
  const [h, , sig] = (await good.sign({ id: 'a', v: 1 })).split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ id: 'a', v: 2 })).toString('base64url')}.${sig}`;
  await rejects(verifyCompactJws(forged, keys), 'bad-signature');
  // alg confusion: HS256 keyed with the public JWK text must not pass.
  const hs = await new CompactSign(Buffer.from('{"id":"a"}'))
    .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
    .sign(Buffer.from(JSON.stringify(good.publicJwk)));
  await rejects(verifyCompactJws(hs, keys), 'bad-alg');
  // An EdDSA header on the ES256 key.
  const ed = await makeSigner('EdDSA', 'k1');
  await rejects(verifyCompactJws(await ed.sign({ id: 'a' }), keys), 'bad-alg');
  // alg none (unsecured JWS, empty signature).
  const none = `${Buffer.from('{"alg":"none","kid":"k1"}').toString('base64url')}.${Buffer.from('{"id":"a"}').toString('base64url')}.`;
  await rejects(verifyCompactJws(none, keys), 'malformed');
  await rejects(verifyCompactJws('not a jws', keys), 'malformed');
  await rejects(verifyCompactJws('e30.e30.AAAA', keys), 'unknown-key');
  await rejects(verifyCompactJws('!!!.e30.AAAA', keys), 'malformed');
});

test(
  'key set refuses private keys, symmetric and RSA keys, wrong alg and duplicate kids',
  { timeout: 10_000 },
  async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const priv = { ...(await exportJWK(privateKey)), kid: 'p' };
    const ed = await makeSigner('EdDSA', 'd');
    const cases: [Record<string, unknown>[], RegExp][] = [
      [[priv], /commands\.keys\.0: is a private key/],
      [[{ kty: 'oct', k: 'c2VjcmV0', kid: 'h' }], /commands\.keys\.0: unsupported key type oct/],
      [[{ kty: 'RSA', n: 'AQAB', e: 'AQAB', kid: 'r' }], /unsupported key type RSA/],
      [[{ ...ed.publicJwk, alg: 'ES256' }], /alg ES256 does not fit/],
      [[ed.publicJwk, ed.publicJwk], /commands\.keys\.1\.kid: duplicate kid "d"/],
      [[{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', kid: 'bad' }], /not a usable public key/],
    ];
    for (const [jwks, re] of cases) {
      await assert.rejects(KeySet.load(jwks), (e: unknown) => isKeyError(e) && re.test(e.message));
    }
  },
);
