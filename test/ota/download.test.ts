// Offers over HTTP: a download cut half-way resumes by Range; the manifest's size is a hard cap;
// a link slower than the floor is abandoned.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { tmpDir } from '../helpers/tmp.js';
import { readManifestJws } from '../../ota/bundle/bundle-file.js';
import { agentFor, kit, otaConfig, packFull, state, writeAgent, type Kit } from './ota-fixtures.js';

let k: Kit;
const tmp = tmpDir('ota-dl-');
const factory = writeAgent(join(tmp.path, 'factory'), '1.0.0', 'healthy');
// Big enough that half of it is many TCP segments.
const v2 = writeAgent(join(tmp.path, 'v2'), '2.0.0', 'healthy', {
  'dist/blob.js': Array.from({ length: 20000 }, (_, i) => `export const v${i} = ${i * 7919};`).join(
    '\n',
  ),
});
let bundleFile = '';
let bundle: Buffer;
let n = 0;

before(async () => {
  k = await kit();
  bundleFile = join(tmp.path, 'v2.bundle');
  await packFull(v2, k.opts({}), bundleFile);
  bundle = readFileSync(bundleFile);
});
after(() => tmp.cleanup());

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2.bundle` };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

function device(): string {
  const d = join(tmp.path, `dev-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
}

const fast = { retryDelayMs: 100, connectTimeoutMs: 2000, idleTimeoutMs: 2000 };

test('a download cut half-way resumes with Range and installs', { timeout: 30_000 }, async () => {
  const ranges: (string | undefined)[] = [];
  const half = Math.floor(bundle.length / 2);
  const { server, url } = await serve((req, res) => {
    ranges.push(req.headers.range);
    if (!req.headers.range) {
      res.writeHead(200, { 'content-length': bundle.length });
      res.write(bundle.subarray(0, half), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    const from = Number(/bytes=(\d+)-/.exec(req.headers.range)![1]);
    res.writeHead(206, {
      'content-length': bundle.length - from,
      'content-range': `bytes ${from}-${bundle.length - 1}/${bundle.length}`,
    });
    res.end(bundle.subarray(from));
  });
  try {
    const dataDir = device();
    const agent = agentFor(dataDir, factory, otaConfig(k), { download: fast });
    await agent.handleOffer(
      Buffer.from(JSON.stringify({ manifest: await readManifestJws(bundleFile), url })),
    );
    const st = agent.state();
    assert.equal(st.phase, 'Switching', JSON.stringify(st.error));
    assert.equal(ranges.length, 2);
    assert.equal(ranges[0], undefined);
    const resumedAt = Number(/bytes=(\d+)-/.exec(ranges[1] ?? '')?.[1]);
    assert.ok(resumedAt > 0 && resumedAt <= half, `resumed at ${ranges[1]}`);
    assert.ok(state(dataDir).history.some((h) => h.to === 'Downloading'));
  } finally {
    await close(server);
  }
});

test(
  'an offer that is only the signed manifest downloads from its url',
  { timeout: 30_000 },
  async () => {
    const { server, url } = await serve((_req, res) => res.end(bundle));
    try {
      const file = join(tmp.path, 'with-url.bundle');
      await packFull(v2, k.opts({ url }), file);
      const served = readFileSync(file);
      server.removeAllListeners('request');
      server.on('request', (_req, res) => res.end(served));
      const agent = agentFor(device(), factory, otaConfig(k), { download: fast });
      await agent.handleOffer(Buffer.from(await readManifestJws(file)));
      assert.equal(agent.state().phase, 'Switching', JSON.stringify(agent.state().error));
    } finally {
      await close(server);
    }
  },
);

test(
  'more bytes than the manifest announces stops the download (too-large)',
  { timeout: 30_000 },
  async () => {
    const { server, url } = await serve((_req, res) => {
      res.writeHead(200); // no content-length: the cap must hold while streaming
      res.write(bundle);
      res.end(Buffer.alloc(256 * 1024, 7));
    });
    try {
      const dataDir = device();
      const agent = agentFor(dataDir, factory, otaConfig(k), { download: fast });
      await agent.handleOffer(
        Buffer.from(JSON.stringify({ manifest: await readManifestJws(bundleFile), url })),
      );
      const st = agent.state();
      assert.equal(st.phase, 'Failed');
      assert.equal(st.error?.reason, 'too-large', st.error?.message);
      assert.equal(st.active, 'factory');
    } finally {
      await close(server);
    }
  },
);

test('a link slower than the throughput floor is abandoned', { timeout: 30_000 }, async () => {
  const { server, url } = await serve((_req, res) => {
    res.writeHead(200, { 'content-length': bundle.length });
    let off = 0;
    const t = setInterval(() => {
      if (res.destroyed || off >= bundle.length) return clearInterval(t);
      res.write(bundle.subarray(off, off + 16));
      off += 16;
    }, 100);
    res.on('close', () => clearInterval(t));
  });
  try {
    const agent = agentFor(device(), factory, otaConfig(k), {
      download: { ...fast, retries: 0, minBytesPerSecond: 4096, lowThroughputSeconds: 2 },
    });
    const started = Date.now();
    await agent.handleOffer(
      Buffer.from(JSON.stringify({ manifest: await readManifestJws(bundleFile), url })),
    );
    const st = agent.state();
    assert.equal(st.error?.reason, 'download-failed', st.error?.message);
    assert.match(st.error!.message, /throughput/);
    assert.ok(Date.now() - started < 10_000);
  } finally {
    await close(server);
  }
});
