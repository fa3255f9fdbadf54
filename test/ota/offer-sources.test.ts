// Hostile downloads (issue 10): an unsigned {"url"} offer is fetched only from ota.sources; a server
// dripping bytes just above the throughput floor is abandoned at the overall deadline; refused
// downloads leave nothing in ota/downloads; a tar with a duplicate entry and a manifest whose
// treeSha256 does not match the files are refused, deterministically. Real loopback HTTP servers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { MANIFEST_FORMAT, type Manifest } from '../../ota/bundle/manifest.js';
import { treeSha256 } from '../../ota/bundle/tree.js';
import {
  agentFor,
  craftBundle,
  fullEntry,
  kit,
  otaConfig,
  writeAgent,
  type Kit,
} from './ota-fixtures.js';

let k: Kit;
const tmp = tmpDir('ota-sources-');
const factory = writeAgent(join(tmp.path, 'factory'), '1.0.0', 'healthy');
let n = 0;
before(async () => {
  k = await kit();
});
after(() => tmp.cleanup());

function device(): string {
  const d = join(tmp.path, `dev-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
}

const downloads = (dataDir: string) => {
  const d = join(dataDir, 'ota', 'downloads');
  return existsSync(d) ? readdirSync(d) : [];
};

async function serve(
  handler: Parameters<typeof createServer>[1],
): Promise<{ server: Server; port: number; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    handler!(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, hits: () => hits };
}
const close = (s: Server) =>
  new Promise<void>((r) => {
    s.closeAllConnections();
    s.close(() => r());
  });

test('an unsigned {"url"} offer is refused without ota.sources: nothing fetched, nothing written', async () => {
  const srv = await serve((_q, res) => res.end('x'));
  try {
    const dataDir = device();
    const agent = agentFor(dataDir, factory, otaConfig(k));
    await agent.handleOffer(Buffer.from(JSON.stringify({ url: `http://127.0.0.1:${srv.port}/b` })));
    const st = agent.state();
    assert.equal(st.error?.reason, 'source-not-allowed', JSON.stringify(st.error));
    assert.equal(srv.hits(), 0, 'the URL was never fetched');
    assert.ok(!existsSync(join(dataDir, 'ota', 'state.json')), 'no state written for junk');
    // A host pattern that does not match is the same refusal.
    const other = agentFor(dataDir, factory, otaConfig(k, { sources: ['*.example.com'] }));
    await other.handleOffer(Buffer.from(JSON.stringify({ url: `http://127.0.0.1:${srv.port}/b` })));
    assert.equal(other.state().error?.reason, 'source-not-allowed');
    assert.equal(srv.hits(), 0);
  } finally {
    await close(srv.server);
  }
});

test('a refused download from an allowed source leaves nothing in ota/downloads', async () => {
  const srv = await serve((_q, res) => res.end(randomBytes(4096)));
  try {
    const dataDir = device();
    const cfg = otaConfig(k, { sources: [`127.0.0.1:${srv.port}`] });
    const agent = agentFor(dataDir, factory, cfg);
    await agent.handleOffer(Buffer.from(JSON.stringify({ url: `http://127.0.0.1:${srv.port}/b` })));
    const st = agent.state();
    assert.equal(srv.hits(), 1, 'fetched: the host is allowed');
    assert.equal(st.phase, 'Failed');
    assert.equal(st.error?.reason, 'bad-manifest', JSON.stringify(st.error));
    assert.deepEqual(downloads(dataDir), [], 'the refused bundle was removed');
  } finally {
    await close(srv.server);
  }
});

test(
  'a server dripping above the throughput floor is abandoned at the deadline, .part removed',
  { timeout: 30_000 },
  async () => {
    const timers = new Set<NodeJS.Timeout>();
    const srv = await serve((_q, res) => {
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      // 2 KiB every 500 ms: 4 KiB/s, above the 1 KiB/s floor, so only the deadline stops it.
      const t = setInterval(() => res.write(Buffer.alloc(2048, 1)), 500);
      timers.add(t);
      res.on('close', () => clearInterval(t));
    });
    try {
      const dataDir = device();
      const agent = agentFor(
        dataDir,
        factory,
        otaConfig(k, { sources: [`127.0.0.1:${srv.port}`] }),
        {
          download: { deadlineMs: 2500 },
        },
      );
      const t0 = Date.now();
      await agent.handleOffer(
        Buffer.from(JSON.stringify({ url: `http://127.0.0.1:${srv.port}/slow` })),
      );
      const took = Date.now() - t0;
      const st = agent.state();
      assert.equal(st.error?.reason, 'timeout', JSON.stringify(st.error));
      assert.ok(took >= 2400 && took < 15_000, `abandoned at the deadline (${took} ms)`);
      assert.deepEqual(downloads(dataDir), [], 'no .part left behind');
    } finally {
      for (const t of timers) clearInterval(t);
      await close(srv.server);
    }
  },
);

function manifest(over: Partial<Manifest>, files: ReturnType<typeof fullEntry>[]): Manifest {
  const now = Math.floor(Date.now() / 1000);
  return {
    format: MANIFEST_FORMAT,
    name: 'wms-gateway',
    version: '2.0.0',
    counter: 2,
    kind: 'full',
    target: 'agent',
    treeSha256: treeSha256(files.map((f) => f.file)),
    files: files.map((f) => f.file),
    removed: [],
    payload: files.map((f) => f.payload),
    requires: {},
    iat: now - 60,
    exp: now + 3600,
    ...over,
  };
}

test('a duplicate tar entry is refused, every time', async () => {
  const f = fullEntry('bin/wms-gateway.js', Buffer.from('console.log(1)\n'));
  const evil = { path: f.entry.path, data: f.entry.data };
  const file = join(tmp.path, 'dup.bundle');
  await craftBundle(file, manifest({}, [f]), k.keys.privateJwk, [f.entry, evil]);
  for (let i = 0; i < 5; i++) {
    const st = await agentFor(device(), factory, otaConfig(k)).install({ file });
    assert.equal(st.error?.reason, 'duplicate-entry', JSON.stringify(st.error));
    assert.equal(st.slots.a, null);
  }
});

test('a manifest whose treeSha256 does not match its files is refused', async () => {
  const f = fullEntry('bin/wms-gateway.js', Buffer.from('console.log(1)\n'));
  const file = join(tmp.path, 'tree.bundle');
  await craftBundle(file, manifest({ treeSha256: 'f'.repeat(64) }, [f]), k.keys.privateJwk, [
    f.entry,
  ]);
  const st = await agentFor(device(), factory, otaConfig(k)).install({ file });
  assert.equal(st.error?.reason, 'tree-mismatch', JSON.stringify(st.error));
  assert.equal(st.slots.a, null);
});
