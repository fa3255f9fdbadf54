// The gateway's HTTP face (CONTRACT.md §4): /health, /metrics, the dashboard and its JSON/SSE API.
// Reads are open (the balena public URL shows the dashboard); writes need the bearer token of $DATA_DIR/http-token.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { GatewayView } from '../health/gateway-view.js';
import type { HealthReport } from '../health/monitor.js';
import { ensureToken, bearerMatches } from './token.js';
import { EventStream } from './event-stream.js';
import { dashboardPage } from './dashboard-page.js';
import { jsonText } from './json-text.js';
import { isUnknownJobError } from '../maintenance/report.js';
import { staticAssets } from './static-assets.js';

export interface HttpActions {
  runMaintenance?: (job: string) => Promise<unknown>;
  backup?: (kind: 'full' | 'diff') => Promise<unknown>;
  reports?: () => Promise<unknown[]>;
  incidents?: () => unknown[] | Promise<unknown[]>;
  /** A tag write from the page: the command path's checks, execution and audit (CommandService.local). */
  write?: (
    doc: LocalWrite,
  ) => Promise<{ ack: { status: string; reason?: string }; result?: unknown }>;
  /** Audit a page write refused before the checks (no or wrong token). */
  writeRefused?: (doc: unknown, reason: string) => Promise<void>;
}

export interface LocalWrite {
  id: string;
  plc: string;
  op: 'write';
  values: Record<string, unknown>;
}

export interface HttpServerOptions {
  host?: string;
  port: number;
  view: GatewayView;
  metrics?: Metrics | undefined;
  health?: ({ current(): HealthReport } & Partial<EventEmitter>) | undefined;
  tokenPath: string;
  logger?: Logger | undefined;
  actions?: HttpActions;
  maxBodyBytes?: number;
  maxSseClients?: number;
  sseFlushMs?: number;
  sseKeepAliveMs?: number;
  requestTimeoutMs?: number;
}

export const HTTP_DEFAULTS = {
  maxBodyBytes: 64 * 1024,
  maxSseClients: 32,
  sseFlushMs: 250,
  sseKeepAliveMs: 15_000,
  requestTimeoutMs: 10_000,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

function isHttpError(e: unknown): e is HttpError {
  return e instanceof HttpError;
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

function send(
  res: ServerResponse,
  status: number,
  body: string,
  type: string,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    ...extra,
  });
  res.end(body);
}

const json = (res: ServerResponse, status: number, v: unknown, extra?: Record<string, string>) =>
  send(res, status, jsonText(v), 'application/json; charset=utf-8', extra);

async function readBody(req: IncomingMessage, max: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) throw new HttpError(413, `body larger than ${max} bytes`);
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) throw new HttpError(413, `body larger than ${max} bytes`);
    parts.push(chunk);
  }
  if (n === 0) return {};
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

export interface HttpServerHandle {
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(o: HttpServerOptions): Promise<HttpServerHandle> {
  const cfg = {
    ...HTTP_DEFAULTS,
    ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
  } as HttpServerOptions & typeof HTTP_DEFAULTS;
  const token = ensureToken(o.tokenPath);
  const events = new EventStream(
    o.view,
    [[o.health as EventEmitter | undefined, 'state', 'health']],
    {
      maxClients: cfg.maxSseClients,
      flushMs: cfg.sseFlushMs,
      keepAliveMs: cfg.sseKeepAliveMs,
    },
  );

  const healthNow = (): HealthReport | undefined => o.health?.current();
  const state = () => ({ ...o.view.snapshot(), health: healthNow() });

  const refreshGauges = () => {
    const m = o.metrics;
    if (!m) return;
    const s = o.view.snapshot();
    m.outboxMessages.set(s.outbox.messages);
    m.outboxBytes.set(s.outbox.bytes);
    if (s.outbox.maxBytes) m.outboxMaxBytes.set(s.outbox.maxBytes);
    m.outboxWriteFailing.set(s.outbox.writeFailure ? 1 : 0);
    m.outboxFull.set(s.outbox.full ? 1 : 0);
    m.wmsConnected.set(s.wms.connected ? 1 : 0);
    for (const p of s.plcs) m.plcConnected.set({ plc: p.id }, p.state === 'connected' ? 1 : 0);
    const h = healthNow();
    if (h) m.healthState.set(h.state === 'ok' ? 0 : h.state === 'degraded' ? 1 : 2);
  };

  type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;
  const write =
    (fn: Handler): Handler =>
    async (req, res, url) => {
      if (!bearerMatches(req.headers.authorization, token))
        throw new HttpError(
          401,
          'write endpoints need Authorization: Bearer <token of $DATA_DIR/http-token>',
          { 'WWW-Authenticate': 'Bearer' },
        );
      await fn(req, res, url);
    };
  // The page's tag write: token-checked here, then the same path as a WMS command. A refusal for a
  // missing or wrong token is audited like any refused command (and answered 401).
  const tagWrite: Handler = async (req, res) => {
    const body = await readBody(req, cfg.maxBodyBytes).catch((e: unknown) => {
      if (isHttpError(e)) throw e;
      throw new HttpError(400, 'body is not JSON');
    });
    if (!o.actions?.write) throw new HttpError(501, 'commands are not attached');
    if (!bearerMatches(req.headers.authorization, token)) {
      const given = /^Bearer\s+\S/i.test(req.headers.authorization ?? '');
      await o.actions.writeRefused?.(body, given ? 'bad-token' : 'no-token');
      throw new HttpError(
        401,
        'writes need Authorization: Bearer <token of $DATA_DIR/http-token>',
        { 'WWW-Authenticate': 'Bearer' },
      );
    }
    const b = (body ?? {}) as { plc?: unknown; values?: unknown };
    if (typeof b.plc !== 'string') throw new HttpError(400, 'plc: must be a PLC id');
    if (!b.values || typeof b.values !== 'object' || Array.isArray(b.values))
      throw new HttpError(400, 'values: must be an object of tag: value');
    const id = `dashboard-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const out = await o.actions.write({
      id,
      plc: b.plc,
      op: 'write',
      values: b.values as Record<string, unknown>,
    });
    json(res, out.ack.status === 'accepted' ? 200 : 422, { id, ...out });
  };

  const assets = staticAssets();
  const routes: Record<string, Partial<Record<string, Handler>>> = {
    ...Object.fromEntries(
      [...assets].map(([path, a]) => [
        path,
        {
          GET: (_req: IncomingMessage, res: ServerResponse) => {
            res.writeHead(200, {
              'Content-Type': a.type,
              'Content-Length': a.body.length,
              'Cache-Control': 'public, max-age=86400',
            });
            res.end(a.body);
          },
        },
      ]),
    ),
    '/': {
      GET: (_req, res) => {
        const nonce = randomBytes(16).toString('base64');
        send(res, 200, dashboardPage(nonce), 'text/html; charset=utf-8', {
          'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        });
      },
    },
    '/health': {
      GET: (_req, res, url) => {
        const h = healthNow() ?? { state: 'ok', ts: new Date().toISOString(), checks: [] };
        // Degraded (a PLC or the WMS link down) still serves: only failing is 503, unless ?strict.
        const healthy = url.searchParams.has('strict') ? h.state === 'ok' : h.state !== 'failing';
        json(res, healthy ? 200 : 503, { status: h.state, ts: h.ts, checks: h.checks });
      },
    },
    '/metrics': {
      GET: async (_req, res) => {
        if (!o.metrics) throw new HttpError(404, 'metrics are not enabled');
        refreshGauges();
        send(res, 200, await o.metrics.text(), o.metrics.contentType);
      },
    },
    '/api/state': { GET: (_req, res) => json(res, 200, state()) },
    '/api/events': {
      GET: (_req, res) => {
        if (!events.add(res, state()))
          throw new HttpError(503, 'too many event stream clients', { 'Retry-After': '10' });
      },
    },
    '/api/maintenance': {
      GET: async (_req, res) =>
        json(res, 200, (await o.actions?.reports?.()) ?? o.view.snapshot().maintenance),
    },
    '/api/incidents': {
      GET: async (_req, res) => json(res, 200, (await o.actions?.incidents?.()) ?? []),
    },
    '/api/maintenance/run': {
      POST: write(async (req, res) => {
        const body = (await readBody(req, cfg.maxBodyBytes)) as { job?: unknown };
        if (typeof body?.job !== 'string' || !/^[A-Za-z]{1,40}$/.test(body.job))
          throw new HttpError(400, 'job: must be a job name such as integrityCheck');
        if (!o.actions?.runMaintenance) throw new HttpError(501, 'maintenance is not attached');
        try {
          json(res, 200, await o.actions.runMaintenance(body.job));
        } catch (e) {
          // A typo in the job name is the caller's mistake: 400 with the valid names, no error log.
          if (isUnknownJobError(e)) throw new HttpError(400, `job: ${e.message}`);
          throw e;
        }
      }),
    },
    '/api/write': { POST: tagWrite },
    '/api/backup': {
      POST: write(async (req, res) => {
        const body = (await readBody(req, cfg.maxBodyBytes)) as { kind?: unknown };
        const kind = body?.kind ?? 'full';
        if (kind !== 'full' && kind !== 'diff')
          throw new HttpError(400, 'kind: must be full or diff');
        if (!o.actions?.backup) throw new HttpError(501, 'backups are not attached');
        json(res, 200, await o.actions.backup(kind));
      }),
    },
  };

  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      return json(res, 400, { error: 'bad request line' });
    }
    const route = routes[url.pathname];
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const handler = route?.[method];
    const fail = (e: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (isHttpError(e)) return json(res, e.status, { error: e.message }, e.headers);
      o.logger?.error({ err: e, path: url.pathname, method: req.method }, 'http: handler failed');
      json(res, 500, { error: 'internal error' });
    };
    if (!route) return fail(new HttpError(404, `no ${url.pathname}`));
    if (!handler)
      return fail(
        new HttpError(405, `${req.method} not allowed on ${url.pathname}`, {
          Allow: Object.keys(route).join(', '),
        }),
      );
    Promise.resolve()
      .then(() => handler(req, res, url))
      .catch(fail);
  });
  server.requestTimeout = cfg.requestTimeoutMs;
  server.headersTimeout = Math.min(cfg.requestTimeoutMs, 60_000);
  server.maxHeadersCount = 100;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  o.logger?.info(
    { host: o.host ?? '0.0.0.0', port },
    'http: listening (dashboard, /health, /metrics)',
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        events.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
