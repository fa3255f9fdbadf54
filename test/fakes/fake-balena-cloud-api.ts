// FAKE balena cloud API v7 for tests — not balena code. A real HTTP server on 127.0.0.1 that speaks
// the small OData subset of balena's API reference (https://docs.balena.io/reference/api/overview/
// and the resources pages for application, release, device and device_tag) that the project uses:
//   GET  /v7/application|release|device|device_tag?$filter=<a eq b [and ...]>  -> {d:[...]}
//   GET  /v7/device?...&$expand=device_tag(...)   (device_tag list embedded in each device)
//   PATCH /v7/device(<id>)  {is_pinned_on__release: <releaseId>|null}
//   POST /v7/device_tag  {device, tag_key, value}  -> 201, 409 when the (device, tag_key) pair exists
//   PATCH /v7/device_tag(device=<id>,tag_key='<key>')  {value}
// Navigation properties come back as {__id: n} as the real API does when they are not expanded.
// Auth: Authorization: Bearer <token>. $select/$orderby are accepted and ignored.
// Device behaviour (a device pinned to a release starting it, reporting gw.health) is up to the test
// through onPin and the setters.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { freePort } from '../helpers/ports.js';

export interface FakeDevice {
  id: number;
  uuid: string;
  device_name: string;
  is_online: boolean;
  belongs_to__application: number;
  is_running__release: number | null;
  is_pinned_on__release: number | null;
}
export interface FakeRelease {
  id: number;
  commit: string;
  status: string;
  raw_version: string;
  belongs_to__application: number;
}
export interface FakeApplication {
  id: number;
  slug: string;
  should_track_latest_release: boolean;
  should_be_running__release: number | null;
}
export interface FakeTag {
  id: number;
  device: number;
  tag_key: string;
  value: string;
}
export interface CloudRequest {
  method: string;
  path: string;
  query: string;
  body: unknown;
  at: number;
}

export class FakeBalenaCloudApi {
  readonly token: string;
  readonly applications: FakeApplication[] = [];
  readonly releases: FakeRelease[] = [];
  readonly devices: FakeDevice[] = [];
  readonly tags: FakeTag[] = [];
  readonly requests: CloudRequest[] = [];
  /** Called after a device's pin changed (the test simulates the device reacting). */
  onPin: ((device: FakeDevice, releaseId: number | null) => void) | null = null;
  private nextId = 1000;
  private server: Server | null = null;
  port = 0;

  constructor(opts: { token?: string } = {}) {
    this.token = opts.token ?? 'fake-cloud-token';
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  addApplication(slug: string, targetRelease: number | null = null): FakeApplication {
    const a = {
      id: this.nextId++,
      slug,
      should_track_latest_release: false,
      should_be_running__release: targetRelease,
    };
    this.applications.push(a);
    return a;
  }
  addRelease(app: number, raw_version: string): FakeRelease {
    const id = this.nextId++;
    const r = {
      id,
      commit: id.toString(16).padStart(32, 'a'),
      status: 'success',
      raw_version,
      belongs_to__application: app,
    };
    this.releases.push(r);
    return r;
  }
  addDevice(
    app: number,
    uuid: string,
    running: number | null,
    tags: Record<string, string> = {},
  ): FakeDevice {
    const d = {
      id: this.nextId++,
      uuid,
      device_name: `dev-${uuid.slice(0, 6)}`,
      is_online: true,
      belongs_to__application: app,
      is_running__release: running,
      is_pinned_on__release: null,
    };
    this.devices.push(d);
    for (const [k, v] of Object.entries(tags)) this.setTag(uuid, k, v);
    return d;
  }
  device(uuid: string): FakeDevice {
    const d = this.devices.find((x) => x.uuid === uuid);
    if (!d) throw new Error(`fake: no device ${uuid}`);
    return d;
  }
  setTag(uuid: string, key: string, value: string): void {
    const d = this.device(uuid);
    const t = this.tags.find((x) => x.device === d.id && x.tag_key === key);
    if (t) t.value = value;
    else this.tags.push({ id: this.nextId++, device: d.id, tag_key: key, value });
  }
  tagsOf(uuid: string): Record<string, string> {
    const d = this.device(uuid);
    return Object.fromEntries(
      this.tags.filter((t) => t.device === d.id).map((t) => [t.tag_key, t.value]),
    );
  }
  pinRequests(deviceId?: number): CloudRequest[] {
    return this.requests.filter(
      (r) =>
        r.method === 'PATCH' &&
        /^\/v7\/device\(\d+\)$/.test(r.path) &&
        (deviceId === undefined || r.path === `/v7/device(${deviceId})`),
    );
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
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return json(res, 400, 'Malformed JSON');
    }
    const method = req.method ?? '';
    this.requests.push({ method, path: url.pathname, query: url.search, body, at: Date.now() });
    if (req.headers.authorization !== `Bearer ${this.token}`) return json(res, 401, 'Unauthorized');
    const filter = url.searchParams.get('$filter');
    const p = url.pathname;
    if (method === 'GET') {
      if (p === '/v7/application')
        return list(res, this.applications, filter, (a) => ({
          ...a,
          should_be_running__release:
            a.should_be_running__release === null ? null : { __id: a.should_be_running__release },
        }));
      if (p === '/v7/release') return list(res, this.releases, filter, (r) => r);
      if (p === '/v7/device_tag')
        return list(
          res,
          this.tags.map((t) => ({
            ...t,
            'device/uuid': this.devices.find((d) => d.id === t.device)?.uuid,
          })),
          filter,
          (t) => t,
        );
      if (p === '/v7/device') {
        const expand = (url.searchParams.get('$expand') ?? '').startsWith('device_tag');
        return list(res, this.devices, filter, (d) => ({
          ...d,
          is_running__release:
            d.is_running__release === null ? null : { __id: d.is_running__release },
          is_pinned_on__release:
            d.is_pinned_on__release === null ? null : { __id: d.is_pinned_on__release },
          belongs_to__application: { __id: d.belongs_to__application },
          ...(expand
            ? {
                device_tag: this.tags
                  .filter((t) => t.device === d.id)
                  .map((t) => ({ tag_key: t.tag_key, value: t.value })),
              }
            : {}),
        }));
      }
    }
    const pin = /^\/v7\/device\((\d+)\)$/.exec(p);
    if (method === 'PATCH' && pin) {
      const d = this.devices.find((x) => x.id === Number(pin[1]));
      if (!d) return json(res, 404, 'Not Found');
      const rel = body.is_pinned_on__release;
      if (rel !== null && !this.releases.some((r) => r.id === rel))
        return json(res, 400, 'Invalid release');
      d.is_pinned_on__release = rel as number | null;
      res.writeHead(200).end('OK');
      this.onPin?.(d, d.is_pinned_on__release);
      return;
    }
    if (method === 'POST' && p === '/v7/device_tag') {
      const { device, tag_key, value } = body as { device: number; tag_key: string; value: string };
      if (
        !this.devices.some((d) => d.id === device) ||
        typeof tag_key !== 'string' ||
        typeof value !== 'string'
      )
        return json(res, 400, 'Invalid device_tag');
      if (this.tags.some((t) => t.device === device && t.tag_key === tag_key))
        return json(res, 409, 'Unique key constraint violated');
      const t = { id: this.nextId++, device, tag_key, value };
      this.tags.push(t);
      return json(res, 201, t);
    }
    const tagKey = /^\/v7\/device_tag\(device=(\d+),tag_key='((?:[^']|'')*)'\)$/.exec(
      decodeURIComponent(p),
    );
    if (method === 'PATCH' && tagKey) {
      const t = this.tags.find(
        (x) => x.device === Number(tagKey[1]) && x.tag_key === tagKey[2]!.replace(/''/g, "'"),
      );
      if (!t) return json(res, 404, 'Not Found');
      if (typeof body.value !== 'string') return json(res, 400, 'value must be a string');
      t.value = body.value;
      res.writeHead(200).end('OK');
      return;
    }
    return json(res, 404, 'Not Found');
  }
}

/** `a eq 'x' and b/c eq 5`: the only OData filter form this fake understands. */
function matches(row: Record<string, unknown>, filter: string | null): boolean {
  if (!filter) return true;
  return filter.split(/\s+and\s+/).every((cond) => {
    const m = /^\s*([\w/]+)\s+eq\s+(?:'((?:[^']|'')*)'|(\d+))\s*$/.exec(cond);
    if (!m) throw new Error(`fake OData: unsupported filter ${cond}`);
    const want = m[2] !== undefined ? m[2].replace(/''/g, "'") : Number(m[3]);
    return row[m[1]!] === want;
  });
}

function list<T>(res: ServerResponse, rows: T[], filter: string | null, shape: (r: T) => unknown) {
  try {
    return json(res, 200, {
      d: rows.filter((r) => matches(r as Record<string, unknown>, filter)).map(shape),
    });
  } catch (e) {
    return json(res, 400, String(e));
  }
}

function json(res: ServerResponse, code: number, v: unknown) {
  res.writeHead(code, {
    'content-type': typeof v === 'string' ? 'text/plain' : 'application/json',
  });
  res.end(typeof v === 'string' ? v : JSON.stringify(v));
}

export async function startFakeCloudApi(
  opts: { token?: string } = {},
): Promise<FakeBalenaCloudApi> {
  const f = new FakeBalenaCloudApi(opts);
  await f.start();
  return f;
}
