// Supervisor client against the fake supervisor: documented endpoints, typed errors, bounded retries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SupervisorClient } from '../../agent/balena/supervisor-client.js';
import {
  isSupervisorAuthError,
  isSupervisorRateLimitError,
  isSupervisorUnavailableError,
} from '../../agent/balena/errors.js';
import { startFakeSupervisor } from '../fakes/fake-balena-supervisor.js';
import { freePort } from '../helpers/ports.js';

test('documented endpoints answer with typed values', { timeout: 10_000 }, async (t) => {
  const sup = await startFakeSupervisor({ supervisorVersion: '17.9.1' });
  t.after(() => sup.stop());
  const c = SupervisorClient.fromEnv({
    BALENA_SUPERVISOR_ADDRESS: sup.address,
    BALENA_SUPERVISOR_API_KEY: sup.apiKey,
    BALENA_APP_ID: String(sup.appId),
  });
  assert.ok(c);
  assert.equal(await c.ping(), true);
  assert.equal((await c.device()).supervisor_version, '17.9.1');
  assert.equal((await c.applicationsState())['wms-gateway']?.services.gateway?.status, 'Running');
  assert.equal((await c.stateStatus()).appState, 'applied');
  await c.patchDeviceTags({ 'gw.health': 'ok' });
  assert.deepEqual(await c.deviceTags(), { 'gw.health': 'ok' });
  await c.restartService('gateway');
  await c.update(false);
  await c.reboot(false);
  const posts = sup.requests.filter((r) => r.method === 'POST');
  assert.deepEqual(
    posts.map((r) => [r.path, r.body]),
    [
      [`/v2/applications/${sup.appId}/restart-service`, { serviceName: 'gateway' }],
      ['/v1/update', { force: false }],
      ['/v1/reboot', { force: false }],
    ],
  );
  assert.equal(SupervisorClient.fromEnv({}), null);
});

test('wrong key, 429 and an absent supervisor are typed errors', { timeout: 10_000 }, async (t) => {
  const sup = await startFakeSupervisor();
  t.after(() => sup.stop());
  const bad = new SupervisorClient({ address: sup.address, apiKey: 'wrong' });
  await assert.rejects(bad.device(), isSupervisorAuthError);
  const c = new SupervisorClient({ address: sup.address, apiKey: sup.apiKey });
  sup.rateLimitNext(1, 7);
  await assert.rejects(c.device(), (e) => isSupervisorRateLimitError(e) && e.retryAfterMs === 7000);
  // Nothing listening: retried with capped backoff, then Unavailable, within a bounded time.
  const gone = new SupervisorClient({
    address: `http://127.0.0.1:${await freePort()}`,
    apiKey: 'k',
    retries: 2,
    backoffBaseMs: 50,
    backoffCapMs: 80,
  });
  const t0 = Date.now();
  await assert.rejects(gone.ping(), isSupervisorUnavailableError);
  const took = Date.now() - t0;
  // Each delay is half fixed, half random (platform/backoff.ts): at least 25 + 40 ms for these two.
  assert.ok(took >= 60 && took < 3_000, `two retries took ${took} ms`);
});
