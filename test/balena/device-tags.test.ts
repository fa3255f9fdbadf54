// Health as device tags against the fake supervisor and fake cloud API (real HTTP on 127.0.0.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceTagReporter } from '../../agent/balena/device-tags.js';
import { createLogger } from '../../platform/logger.js';
import { startFakeSupervisor, type FakeBalenaSupervisor } from '../fakes/fake-balena-supervisor.js';
import { startFakeCloudApi } from '../fakes/fake-balena-cloud-api.js';
import { waitFor, sleep } from '../helpers/wait.js';

const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'silent' });
const supEnv = (s: FakeBalenaSupervisor) => ({
  BALENA_SUPERVISOR_ADDRESS: s.address,
  BALENA_SUPERVISOR_API_KEY: s.apiKey,
});

test('only changed tags are sent, at most once per interval', { timeout: 10_000 }, async (t) => {
  const sup = await startFakeSupervisor();
  const r = new DeviceTagReporter({ env: supEnv(sup), logger, minIntervalMs: 300 });
  t.after(async () => {
    await r.stop();
    await sup.stop();
  });
  r.start();
  // The reporter starts a request at most once per interval. The fake sees a request when it
  // arrives, and the first one (new connection) may take longer to arrive than the second, so
  // the gap between arrivals can be shorter than the interval: measure from before the first
  // update instead, which the first request cannot have been started earlier than.
  const firstUpdate = Date.now();
  r.update({ 'gw.health': 'ok', 'gw.version': '0.1.0', 'gw.plcs': '3/3' });
  await waitFor(() => sup.tagPatches().length === 1, 5_000, 'first PATCH');
  assert.deepEqual(sup.tagPatches()[0]!.body, {
    'gw.health': 'ok',
    'gw.version': '0.1.0',
    'gw.plcs': '3/3',
  });
  // A burst of changes inside the interval becomes one request carrying only the latest diff.
  r.update({ 'gw.health': 'ok', 'gw.plcs': '2/3' });
  r.update({ 'gw.plcs': '1/3', 'gw.version': '0.1.0' });
  r.update({ 'gw.wms': 'connected' });
  await waitFor(() => sup.tagPatches().length === 2, 5_000, 'second PATCH');
  const [, p2] = sup.tagPatches();
  assert.deepEqual(p2!.body, { 'gw.plcs': '1/3', 'gw.wms': 'connected' });
  // (2 ms: Node may fire a timer a millisecond before Date.now() says it is due.)
  assert.ok(
    p2!.at - firstUpdate >= 298,
    `second PATCH ${p2!.at - firstUpdate} ms after the first update, interval is 300`,
  );
  // Unchanged values: nothing is pending, and nothing more is sent (even after an interval).
  await waitFor(() => r.stats().pending === 0, 5_000, 'the answer to reach the reporter');
  r.update({ 'gw.health': 'ok', 'gw.plcs': '1/3' });
  assert.equal(r.stats().pending, 0);
  await sleep(400);
  assert.equal(sup.tagPatches().length, 2);
  assert.deepEqual(Object.fromEntries(sup.tags), {
    'gw.health': 'ok',
    'gw.version': '0.1.0',
    'gw.plcs': '1/3',
    'gw.wms': 'connected',
  });
  assert.equal(r.stats().transport, 'supervisor');
  assert.equal(r.stats().pending, 0);
});

test('429 Retry-After is waited out before the next attempt', { timeout: 10_000 }, async (t) => {
  const sup = await startFakeSupervisor();
  const r = new DeviceTagReporter({ env: supEnv(sup), logger, minIntervalMs: 100 });
  t.after(async () => {
    await r.stop();
    await sup.stop();
  });
  r.start();
  r.update({ 'gw.health': 'ok' });
  await waitFor(() => sup.tagPatches().length === 1, 5_000, 'first PATCH');
  sup.rateLimitNext(1, 1);
  r.update({ 'gw.health': 'degraded' });
  await waitFor(() => sup.tagPatches().length === 3, 5_000, 'PATCH after the 429');
  const [, limited, retried] = sup.tagPatches();
  assert.ok(
    retried!.at - limited!.at >= 990,
    `retried ${retried!.at - limited!.at} ms after a 429 with Retry-After: 1`,
  );
  assert.equal(sup.tags.get('gw.health'), 'degraded');
  assert.equal(r.stats().rateLimited, 1);
});

test(
  'falls back to the cloud API when the supervisor is older than 17.8',
  { timeout: 10_000 },
  async (t) => {
    const sup = await startFakeSupervisor({ supervisorVersion: '16.4.2' });
    const cloud = await startFakeCloudApi();
    const app = cloud.addApplication('acme/gateways');
    const uuid = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    cloud.addDevice(app.id, uuid, null, { 'gw.version': '0.0.9' }); // left by the previous release
    const r = new DeviceTagReporter({
      env: {
        ...supEnv(sup),
        BALENA_API_URL: cloud.url,
        BALENA_API_KEY: cloud.token,
        BALENA_DEVICE_UUID: uuid,
      },
      logger,
      minIntervalMs: 100,
    });
    t.after(async () => {
      await r.stop();
      await sup.stop();
      await cloud.stop();
    });
    r.start();
    r.update({ 'gw.health': 'ok', 'gw.version': '0.1.0' });
    await waitFor(() => cloud.tagsOf(uuid)['gw.version'] === '0.1.0', 5_000, 'tags in the cloud');
    assert.deepEqual(cloud.tagsOf(uuid), { 'gw.health': 'ok', 'gw.version': '0.1.0' });
    assert.equal(sup.tagPatches().length, 0);
    const writes = cloud.requests.filter((q) => q.method !== 'GET');
    // The existing tag is patched, the new one created.
    assert.deepEqual(
      writes.map((q) => `${q.method} ${decodeURIComponent(q.path)}`).sort(),
      [
        `PATCH /v7/device_tag(device=${cloud.device(uuid).id},tag_key='gw.version')`,
        'POST /v7/device_tag',
      ].sort(),
    );
    r.update({ 'gw.health': 'failing' });
    await waitFor(() => cloud.tagsOf(uuid)['gw.health'] === 'failing', 5_000, 'changed gw.health');
    assert.equal(r.stats().transport, 'cloud');
  },
);

test(
  'falls back to the cloud API on a 404 from PATCH /v2/device/tags',
  { timeout: 10_000 },
  async (t) => {
    const sup = await startFakeSupervisor({ supervisorVersion: '14.0.0', hideVersion: true });
    const cloud = await startFakeCloudApi();
    const uuid = 'ffeeddccbbaa99887766554433221100';
    cloud.addDevice(cloud.addApplication('acme/gw').id, uuid, null);
    const r = new DeviceTagReporter({
      env: {
        ...supEnv(sup),
        BALENA_API_URL: cloud.url,
        BALENA_API_KEY: cloud.token,
        BALENA_DEVICE_UUID: uuid,
      },
      logger,
      minIntervalMs: 100,
    });
    t.after(async () => {
      await r.stop();
      await sup.stop();
      await cloud.stop();
    });
    r.start();
    r.update({ 'gw.health': 'ok', 'gw.outbox': '0' });
    await waitFor(() => cloud.tagsOf(uuid)['gw.outbox'] === '0', 5_000, 'tags in the cloud');
    assert.equal(sup.tagPatches().length, 1, 'the supervisor was tried once');
    r.update({ 'gw.outbox': '12' });
    await waitFor(
      () => cloud.tagsOf(uuid)['gw.outbox'] === '12',
      5_000,
      'changed tag in the cloud',
    );
    assert.equal(sup.tagPatches().length, 1, 'and not again');
  },
);

test(
  'tags are kept while the supervisor is down and sent when it is back',
  { timeout: 15_000 },
  async (t) => {
    const sup = await startFakeSupervisor();
    const r = new DeviceTagReporter({
      env: supEnv(sup),
      logger,
      minIntervalMs: 100,
      backoffBaseMs: 100,
      backoffCapMs: 400,
      http: { timeoutMs: 1_000 },
    });
    t.after(async () => {
      await r.stop();
      await sup.stop();
    });
    r.start();
    r.update({ 'gw.health': 'ok', 'gw.wms': 'connected' });
    await waitFor(() => r.stats().requests === 1, 5_000, 'first PATCH answered');
    await sup.stop();
    r.update({ 'gw.health': 'degraded', 'gw.wms': 'disconnected' });
    await waitFor(() => r.stats().failures >= 2, 5_000, 'failed attempts while down');
    r.update({ 'gw.outbox': '1542' });
    assert.equal(r.stats().pending, 3);
    const before = sup.tagPatches().length;
    // One more failed attempt, so the new tag has been retried while the supervisor is down.
    const failures = r.stats().failures;
    await waitFor(() => r.stats().failures > failures, 5_000, 'a retry while down');
    await sup.start();
    await waitFor(
      () => sup.tags.get('gw.outbox') === '1542',
      5_000,
      'queued tags after the outage',
    );
    assert.deepEqual(Object.fromEntries(sup.tags), {
      'gw.health': 'degraded',
      'gw.wms': 'disconnected',
      'gw.outbox': '1542',
    });
    assert.equal(sup.tagPatches().length, before + 1, 'one request carries everything queued');
    await waitFor(() => r.stats().pending === 0, 5_000, 'the answer to reach the reporter');
  },
);

test('without balena the reporter keeps tags and sends nothing', { timeout: 5_000 }, async () => {
  const r = new DeviceTagReporter({ env: {}, logger, minIntervalMs: 10 });
  r.start();
  r.update({ 'gw.health': 'ok', 'bad key!': 'x' });
  assert.equal(r.stats().transport, 'none');
  assert.equal(r.stats().requests, 0);
  assert.equal(r.stats().pending, 1);
  await r.stop();
});
