// Configs at the size limit, through the running agent (`wms-gateway run`) under the production V8
// flags (Dockerfile.template's NODE_OPTIONS): 100,000 configured tags written as one aliased tags list
// start and poll within the 96 MB old space (the YAML syntax tree alone used to exceed it), and an
// "alias bomb" — a small document whose aliases expand to billions of values — is refused by
// `config check` (exit 2, naming the field) and, sent as a signed config/set, by the running agent,
// which keeps polling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { startGateway, onTeardown, counterPlc } from '../helpers/gateway-fixture.js';
import { runCli } from '../helpers/cli.js';
import { makeSigner } from '../commands/signer.js';
import { MAX_CONFIG_BYTES } from '../../platform/config-source.js';

const PRODUCTION_FLAGS = '--max-semi-space-size=2 --max-old-space-size=96';
const HEAP_REPORT = new URL('./fixtures/heap-report.ts', import.meta.url).pathname;
const PLCS = 8;
const TAGS = 12_500; // per PLC: 100,000 configured tags, the issue's figure

/** Eight levels of ten aliases each: 10^9 values once expanded, under 1 KB of text. */
function aliasBomb(head: string): string {
  const lines = [head, 'x0: &a0 [0,0,0,0,0,0,0,0,0,0]'];
  for (let i = 1; i <= 8; i++)
    lines.push(
      `x${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(',')}]`,
    );
  return lines.join('\n') + '\n';
}

test(
  'the running agent starts and polls 100,000 aliased tags under the production heap flags',
  { timeout: 180_000 },
  async (t) => {
    const gw = await startGateway(t, {
      id: 'gw-large',
      sims: PLCS,
      move: false, // one full report per PLC, then quiet: the collector keeps 8 messages, not 800
      start: false,
      env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${PRODUCTION_FLAGS}` },
      preload: [HEAP_REPORT],
    });
    const tags = Array.from({ length: TAGS }, (_, i) => ({
      name: `t${i}`,
      area: 'holding',
      address: i,
      type: 'int16',
    }));
    const groups = [{ intervalMs: 1000, tags }]; // one object: written once, then `*a1` 7 times
    const doc = {
      gateway: { tenant: gw.tenant, id: gw.id },
      wms: { urls: [gw.broker.url], heartbeatSeconds: 3600 },
      plcs: gw.sims.map((s, i) => ({ ...counterPlc(`plc-${i}`, s.port), groups })),
    };
    // Flow style, as a large config has to be to fit the 1 MiB limit (docs/configuration.md).
    const text = stringify(doc, { collectionStyle: 'flow' });
    assert.ok(Buffer.byteLength(text) <= MAX_CONFIG_BYTES, `${Buffer.byteLength(text)} bytes`);
    assert.equal(text.match(/\*a1\b/g)?.length, PLCS - 1, 'the tags list is written once');
    writeFileSync(gw.configPath, text);
    for (const s of gw.sims) s.registers(1, 'holding').fill(7, 0, TAGS);
    const agent = await gw.startAgent();
    await gw.until(() => /HEAP_LIMIT_MB=\d+/.test(agent.output()), 60_000, 'the heap report');
    const limit = Number(/HEAP_LIMIT_MB=(\d+)/.exec(agent.output())![1]);
    assert.ok(limit <= 110, `heap limit ${limit} MB: the production flags are in effect`);
    const full = (plc: string) =>
      gw.sub
        .json<{ plc: string; values: Record<string, unknown> }>('/data')
        .some((m) => m.plc === plc && Object.keys(m.values).length === TAGS);
    const ids = gw.sims.map((_, i) => `plc-${i}`);
    await gw.until(() => ids.every(full), 150_000, `a data message with all ${TAGS} tags per PLC`);
    const first = gw.sub.json<{ values: Record<string, number> }>('plc-3/data')[0]!;
    assert.equal(first.values.t0, 7);
    assert.equal(first.values[`t${TAGS - 1}`], 7);
    const reg = gw.sub.json<{ plcs: { id: string; tags: unknown[] }[] }>('/register').at(-1)!;
    assert.deepEqual(
      reg.plcs.map((p) => p.tags.length),
      ids.map(() => TAGS),
    );
    assert.equal(agent.exitCode(), null, 'still running');
    const peak = Math.max(
      ...[...agent.output().matchAll(/HEAP_PEAK_MB=(\d+)/g)].map((m) => +m[1]!),
    );
    t.diagnostic(`heap limit ${limit} MB, largest heap used seen ${peak} MB`);
  },
);

test(
  'an alias bomb: config check exits 2 naming it; the running agent refuses it as config/set and keeps polling',
  { timeout: 120_000 },
  async (t) => {
    const signer = await makeSigner('ES256', 'cfg-1');
    const gw = await startGateway(t, {
      id: 'gw-bomb',
      sims: 1,
      extra: { commands: { keys: [signer.publicJwk] } },
      env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${PRODUCTION_FLAGS}` },
    });
    const file = join(gw.dir, 'bomb.yaml');
    writeFileSync(file, aliasBomb('plcs: []'));
    const checked = await runCli(['config', 'check', file]);
    assert.equal(checked.code, 2, checked.stderr);
    assert.match(checked.stderr, /x\d: expands to more than 2000000 values through aliases/);

    await gw.until(() => gw.maxSeq('plc-0') >= 3, 60_000, 'data from plc-0');
    const pub = await mqtt.connectAsync(gw.broker.url, { clientId: 'bomb-sender' });
    onTeardown(t, () => pub.endAsync());
    const states = () =>
      gw.sub.json<{ status: string; error?: string; version: number }>('config/state');
    await pub.publishAsync(
      `${gw.prefix}config/set`,
      await signer.sign(aliasBomb('version: 2\ngateway: { tenant: acme, id: gw-bomb }')),
      { qos: 1 },
    );
    await gw.until(() => states().some((s) => s.status === 'rejected'), 30_000, 'a rejection');
    const rejected = states().find((s) => s.status === 'rejected')!;
    assert.match(String(rejected.error), /^malformed/);
    assert.match(String(rejected.error), /x\d: expands to more than 2000000 values/);
    assert.equal(rejected.version, 0, 'the local config stays in force');
    const seq = gw.maxSeq('plc-0');
    await gw.until(() => gw.maxSeq('plc-0') >= seq + 5, 30_000, 'plc-0 still polled');
    assert.equal(gw.agent.exitCode(), null);
  },
);
