// FAKE balena supervisor for tests — not balena code. A real HTTP server on 127.0.0.1 that answers
// with the shapes documented in balena's "Interacting with the balena Supervisor" reference
// (https://docs.balena.io/reference/supervisor/supervisor-api/): GET /ping -> "OK",
// GET /v1/device -> {api_port, ip_address, commit, status, supervisor_version, update_pending, ...},
// GET /v2/applications/state -> {<appName>: {appId, commit, services: {<name>: {status, releaseId}}}},
// GET /v2/state/status -> {status:'success', appState, overallDownloadProgress, containers, release},
// POST /v2/applications/:appId/restart-service, POST /v1/reboot, POST /v1/update -> 200/202,
// GET /v2/device/tags -> {status:'success', tags:[{id, name, value}]}, and (supervisor >= 17.8, as the
// project assumes) PATCH /v2/device/tags with a flat {"key":"value"} body. Auth: Bearer key or ?apikey=.
// Test controls: an older version without the tags endpoint, scripted 429s, stop/start on one port.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { freePort } from '../helpers/ports.js';

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  at: number;
}

export interface FakeSupervisorOptions {
  apiKey?: string;
  /** Below 17.8 the PATCH /v2/device/tags endpoint answers 404, as on a real older supervisor. */
  supervisorVersion?: string;
  appId?: number;
  /** Leave supervisor_version out of /v1/device (the client must then try the endpoint). */
  hideVersion?: boolean;
}

export class FakeBalenaSupervisor {
  readonly apiKey: string;
  supervisorVersion: string;
  readonly appId: number;
  readonly hideVersion: boolean;
  readonly requests: RecordedRequest[] = [];
  readonly tags = new Map<string, string>();
  private rateLimits: number[] = [];
  private server: Server | null = null;
  port = 0;

  constructor(opts: FakeSupervisorOptions = {}) {
    this.apiKey = opts.apiKey ?? 'fake-supervisor-key';
    this.supervisorVersion = opts.supervisorVersion ?? '17.8.3';
    this.appId = opts.appId ?? 1_234_567;
    this.hideVersion = opts.hideVersion ?? false;
  }

  get address(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next N requests answer 429 with this Retry-After (seconds). */
  rateLimitNext(count: number, retryAfterSeconds: number): void {
    for (let i = 0; i < count; i++) this.rateLimits.push(retryAfterSeconds);
  }

  tagPatches(): RecordedRequest[] {
    return this.requests.filter((r) => r.method === 'PATCH' && r.path === '/v2/device/tags');
  }

  async start(): Promise<void> {
    if (this.server) return;
    this.port ||= await freePort();
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Stop answering (connections refused) until start() again on the same port. */
  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString();
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return send(res, 400, 'Bad JSON');
    }
    this.requests.push({ method: req.method ?? '', path: url.pathname, body, at: Date.now() });
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${this.apiKey}` && url.searchParams.get('apikey') !== this.apiKey)
      return send(res, 401, 'Unauthorized');
    const retryAfter = this.rateLimits.shift();
    if (retryAfter !== undefined)
      return send(res, 429, 'Too Many Requests', { 'retry-after': String(retryAfter) });
    const route = `${req.method} ${url.pathname}`;
    const major = Number(this.supervisorVersion.split('.')[0]);
    const minor = Number(this.supervisorVersion.split('.')[1]);
    const hasTagsPatch = major > 17 || (major === 17 && minor >= 8);
    switch (route) {
      case 'GET /ping':
        return send(res, 200, 'OK');
      case 'GET /v1/device':
        return sendJson(res, 200, {
          api_port: 48484,
          ip_address: '127.0.0.1',
          commit: 'c0ffee0c0ffee0c0ffee0c0ffee0c0ff',
          status: 'Idle',
          download_progress: null,
          os_version: 'balenaOS 6.0.0',
          ...(this.hideVersion ? {} : { supervisor_version: this.supervisorVersion }),
          update_pending: false,
          update_downloaded: false,
          update_failed: false,
        });
      case 'GET /v2/applications/state':
        return sendJson(res, 200, {
          'wms-gateway': {
            appId: this.appId,
            commit: 'c0ffee0c0ffee0c0ffee0c0ffee0c0ff',
            services: { gateway: { status: 'Running', releaseId: 42, downloadProgress: null } },
          },
        });
      case 'GET /v2/state/status':
        return sendJson(res, 200, {
          status: 'success',
          appState: 'applied',
          overallDownloadProgress: null,
          containers: [{ serviceName: 'gateway', status: 'Running', appId: this.appId }],
          images: [],
          release: 'c0ffee0c0ffee0c0ffee0c0ffee0c0ff',
        });
      case `POST /v2/applications/${this.appId}/restart-service`:
        return send(res, 200, 'OK');
      case 'POST /v1/reboot':
        return sendJson(res, 202, { Data: 'OK', Error: null });
      case 'POST /v1/update':
        return send(res, 204, '');
      case 'GET /v2/device/tags':
        return sendJson(res, 200, {
          status: 'success',
          tags: [...this.tags].map(([name, value], i) => ({ id: i + 1, name, value })),
        });
      case 'PATCH /v2/device/tags': {
        if (!hasTagsPatch) return send(res, 404, 'Not Found');
        if (!body || typeof body !== 'object' || Array.isArray(body))
          return sendJson(res, 400, { status: 'failed', message: 'body must be an object' });
        for (const [k, v] of Object.entries(body)) {
          if (typeof v !== 'string')
            return sendJson(res, 400, {
              status: 'failed',
              message: `tag ${k}: value must be a string`,
            });
          this.tags.set(k, v);
        }
        return sendJson(res, 200, { status: 'success' });
      }
      default:
        return send(res, 404, 'Not Found');
    }
  }
}

function send(
  res: ServerResponse,
  code: number,
  text: string,
  headers: Record<string, string> = {},
) {
  res.writeHead(code, { 'content-type': 'text/plain', ...headers });
  res.end(text);
}
function sendJson(res: ServerResponse, code: number, v: unknown) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(v));
}

export async function startFakeSupervisor(
  opts: FakeSupervisorOptions = {},
): Promise<FakeBalenaSupervisor> {
  const f = new FakeBalenaSupervisor(opts);
  await f.start();
  return f;
}
