// Parsing a config without a syntax tree (js-yaml): bad YAML names its line and column, aliases are
// bounded by their expanded size and may not contain themselves, a tags list shared through an alias
// stays one list after validation (frozen, so no PLC can change another's), and the local config
// hash is still sha256(JSON.stringify(config)); a remote config written back (applied.yaml) fits the
// limit it is read back with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { parseConfigText } from '../../platform/config-source.js';
import { MAX_CONFIG_VALUES, configToText } from '../../platform/config-yaml.js';
import { MAX_CONFIG_BYTES } from '../../platform/config-source.js';
import { isConfigError } from '../../platform/config-error.js';
import { validateConfig } from '../../agent/config/validate.js';
import { applyEnv } from '../../agent/config/load.js';
import { configSha256 } from '../../agent/remote-config/config-hash.js';

const issues = (text: string) => {
  try {
    parseConfigText(text, 't');
    return [];
  } catch (e) {
    assert.ok(isConfigError(e));
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
};

test('bad YAML names line and column; YAML 1.2 core scalars as before', () => {
  assert.deepEqual(issues('plcs: [\n  {'), [
    ': not valid YAML/JSON: line 3, column 1: unexpected end of the stream within a flow collection',
  ]);
  assert.match(issues('a: 1\na: 2')[0]!, /line 2, column 1: duplicated mapping key/);
  assert.match(issues('a: !!binary aGk=')[0]!, /line 1, column \d+: unknown tag/);
  assert.deepEqual(parseConfigText('a: [2026-11-30, yes, 0x1F, 0o17, ~, 1_000, "<<": 1]\n<<: {}'), {
    a: ['2026-11-30', 'yes', 31, 15, null, '1_000', { '<<': 1 }],
    '<<': {},
  });
  assert.deepEqual(parseConfigText(''), {});
  assert.match(issues('[1]')[0]!, /must be a mapping/);
});

test('aliases: expanded size bounded (naming the field), cycles refused, honest sharing accepted', () => {
  const bomb = ['x0: &a0 [0,0,0,0,0,0,0,0,0,0]'];
  for (let i = 1; i <= 8; i++)
    bomb.push(
      `x${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(',')}]`,
    );
  // x5 expands to 1,111,111 values (10^6 zeros and their lists), x6 to 11,111,111: over the bound.
  assert.deepEqual(issues(bomb.join('\n')), [
    `x6: expands to more than ${MAX_CONFIG_VALUES} values through aliases (anchors used too often or nested)`,
  ]);
  assert.doesNotThrow(() => parseConfigText(bomb.slice(0, 6).join('\n')));
  assert.deepEqual(issues('wms: &w { urls: [*w] }'), [
    'wms.urls.0: an alias refers to the value that contains it',
  ]);
});

test('a tags list shared through an alias stays shared and frozen; the hash is unchanged', () => {
  const tags = Array.from({ length: 50 }, (_, i) => ({
    name: `t${i}`,
    area: 'holding',
    address: i,
    type: 'int16',
  }));
  const groups = [{ intervalMs: 100, tags }];
  const plc = (i: number) => ({ id: `p${i}`, transport: { type: 'tcp', host: `h${i}` }, groups });
  const text = stringify({ plcs: [plc(0), plc(1), plc(2)] }, { collectionStyle: 'flow' });
  assert.equal(text.match(/\*a\d/g)?.length, 2);
  const cfg = validateConfig(applyEnv(parseConfigText(text) as Record<string, unknown>, {}));
  const [a, b, c] = cfg.plcs.map((p) => p.groups[0]!.tags);
  assert.equal(a, b);
  assert.equal(a, c);
  assert.equal(a!.length, 50);
  assert.equal(a![0]!.byteOrder, 'ABCD', 'defaults applied');
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a![0]));
  assert.throws(() => {
    (a![0] as { deadband: number }).deadband = 5;
  }, TypeError);
  // Unshared lists are validated and frozen alike; equal but separate lists are not merged.
  const apart = validateConfig({ plcs: [plc(0), { ...plc(1), groups: structuredClone(groups) }] });
  assert.notEqual(apart.plcs[0]!.groups[0]!.tags, apart.plcs[1]!.groups[0]!.tags);
  for (const conf of [cfg, apart, validateConfig({})])
    assert.equal(
      configSha256(conf),
      createHash('sha256').update(JSON.stringify(conf)).digest('hex'),
    );
});

test('a config written back as YAML reads back the same, within 1 MiB when the text it came as was', () => {
  const small = {
    gateway: { tenant: 'acme' },
    plcs: [{ id: 'p', groups: [{ tags: [{ a: 1 }] }] }],
  };
  const block = configToText(small, MAX_CONFIG_BYTES);
  assert.match(block, /^gateway:\n {2}tenant: acme\n/, 'block style when it fits');
  assert.deepEqual(parseConfigText(block), small);
  // 8 PLCs × 12,500 aliased tags: 1.03 MB in flow style; block style would be 1.25 MB.
  const tags = Array.from({ length: 12_500 }, (_, i) => ({
    name: `t${i}`,
    area: 'holding',
    address: i,
    type: 'int16',
  }));
  const groups = [{ intervalMs: 1000, tags }];
  const big = {
    plcs: Array.from({ length: 8 }, (_, i) => ({
      id: `plc-${i}`,
      transport: { type: 'tcp', host: '127.0.0.1', port: 20_000 + i },
      groups,
    })),
  };
  const text = configToText(
    parseConfigText(stringify(big, { collectionStyle: 'flow' })),
    MAX_CONFIG_BYTES,
  );
  assert.ok(Buffer.byteLength(text) <= MAX_CONFIG_BYTES, `${Buffer.byteLength(text)} bytes`);
  assert.match(
    text,
    /^ {10}- \{name: t0, area: holding, address: 0, type: int16\}$/m,
    'a tag per line',
  );
  assert.deepEqual(parseConfigText(text), big);
});
