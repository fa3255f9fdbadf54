// Client of the balena cloud API v7 (OData, https://docs.balena.io/reference/api/overview/):
// device lookup, device tags, releases and release pinning. Used by the tag reporter's fallback
// (with the device's BALENA_API_KEY) and by the rollout CLI (with a user's API key).
import type { Got } from 'got';
import { z } from 'zod';
import { createBalenaHttp, type HttpSettings } from './balena-http.js';
import { CloudApiNotFoundError, CloudApiResponseError, toBalenaError } from './errors.js';

export const DEFAULT_API_URL = 'https://api.balena-cloud.com';

export interface CloudApiClientOptions extends HttpSettings {
  apiUrl?: string | undefined;
  token: string;
}

/** OData string literal: single quotes doubled. */
export const odataString = (s: string) => `'${s.replace(/'/g, "''")}'`;

// A navigation property comes back as {__id} when not expanded, as the object when it is.
const navId = z
  .union([z.looseObject({ __id: z.number() }), z.looseObject({ id: z.number() }), z.null()])
  .optional()
  .transform((v) => (v ? ('__id' in v ? (v.__id as number) : (v.id as number)) : null));

const tagSchema = z.looseObject({
  id: z.number().optional(),
  tag_key: z.string(),
  value: z.string(),
});

const deviceSchema = z.looseObject({
  id: z.number(),
  uuid: z.string(),
  device_name: z.string().nullable().optional(),
  is_online: z.boolean().optional(),
  is_running__release: navId,
  is_pinned_on__release: navId,
  device_tag: z.array(tagSchema).optional(),
});
export interface FleetDevice {
  id: number;
  uuid: string;
  name: string;
  online: boolean;
  runningRelease: number | null;
  pinnedRelease: number | null;
  tags: Record<string, string>;
}

const fleetSchema = z.looseObject({
  id: z.number(),
  slug: z.string(),
  should_track_latest_release: z.boolean().optional(),
  should_be_running__release: navId,
});
export interface Fleet {
  id: number;
  slug: string;
  tracksLatest: boolean;
  targetRelease: number | null;
}

const releaseSchema = z.looseObject({
  id: z.number(),
  commit: z.string(),
  status: z.string().optional(),
  raw_version: z.string().nullable().optional(),
});
export type Release = z.infer<typeof releaseSchema>;

const list = <S extends z.ZodType>(item: S) => z.looseObject({ d: z.array(item) });

export class CloudApiClient {
  private readonly http: Got;

  constructor(opts: CloudApiClientOptions) {
    this.http = createBalenaHttp(opts.apiUrl || DEFAULT_API_URL, opts.token, opts);
  }

  async deviceIdByUuid(uuid: string): Promise<number> {
    const r = await this.get(
      'device',
      { $filter: `uuid eq ${odataString(uuid)}`, $select: 'id,uuid' },
      deviceSchema,
    );
    const d = r[0];
    if (!d) throw new CloudApiNotFoundError(`device ${uuid} not found`, 'cloud-api', 404);
    return d.id;
  }

  async deviceTags(uuid: string): Promise<Record<string, string>> {
    const r = await this.get(
      'device_tag',
      { $filter: `device/uuid eq ${odataString(uuid)}`, $select: 'id,tag_key,value' },
      tagSchema,
    );
    return Object.fromEntries(r.map((t) => [t.tag_key, t.value]));
  }

  async createDeviceTag(deviceId: number, key: string, value: string): Promise<void> {
    await this.call('POST /v7/device_tag', () =>
      this.http.post('v7/device_tag', { json: { device: deviceId, tag_key: key, value } }),
    );
  }

  async patchDeviceTag(deviceId: number, key: string, value: string): Promise<void> {
    const path = `v7/device_tag(device=${deviceId},tag_key=${encodeURIComponent(odataString(key))})`;
    await this.call('PATCH /v7/device_tag', () =>
      this.http.patch(path, { json: { value }, retry: { limit: 0 } }),
    );
  }

  async fleet(ref: string): Promise<Fleet> {
    const filter = /^\d+$/.test(ref) ? `id eq ${ref}` : `slug eq ${odataString(ref.toLowerCase())}`;
    const r = await this.get(
      'application',
      {
        $filter: filter,
        $select: 'id,slug,should_track_latest_release,should_be_running__release',
      },
      fleetSchema,
    );
    const f = r[0];
    if (!f) throw new CloudApiNotFoundError(`fleet ${ref} not found`, 'cloud-api', 404);
    return {
      id: f.id,
      slug: f.slug,
      tracksLatest: f.should_track_latest_release ?? false,
      targetRelease: f.should_be_running__release,
    };
  }

  /** A release of the fleet by id, commit or raw_version. */
  async release(fleetId: number, ref: string): Promise<Release> {
    const by = /^\d+$/.test(ref)
      ? `id eq ${ref}`
      : /^[0-9a-f]{7,64}$/.test(ref)
        ? `commit eq ${odataString(ref)}`
        : `raw_version eq ${odataString(ref)}`;
    const r = await this.get(
      'release',
      {
        $filter: `belongs_to__application eq ${fleetId} and ${by}`,
        $select: 'id,commit,status,raw_version',
      },
      releaseSchema,
    );
    const rel = r[0];
    if (!rel)
      throw new CloudApiNotFoundError(
        `release ${ref} not found in fleet ${fleetId}`,
        'cloud-api',
        404,
      );
    return rel;
  }

  async fleetDevices(fleetId: number): Promise<FleetDevice[]> {
    const r = await this.get(
      'device',
      {
        $filter: `belongs_to__application eq ${fleetId}`,
        $select: 'id,uuid,device_name,is_online,is_running__release,is_pinned_on__release',
        $expand: 'device_tag($select=tag_key,value)',
      },
      deviceSchema,
    );
    return r.map((d) => ({
      id: d.id,
      uuid: d.uuid,
      name: d.device_name ?? d.uuid.slice(0, 7),
      online: d.is_online ?? false,
      runningRelease: d.is_running__release,
      pinnedRelease: d.is_pinned_on__release,
      tags: Object.fromEntries((d.device_tag ?? []).map((t) => [t.tag_key, t.value])),
    }));
  }

  /** Pin a device to a release, or null to make it track the fleet's target again. Idempotent. */
  async pinDevice(deviceId: number, releaseId: number | null): Promise<void> {
    await this.call(`PATCH /v7/device(${deviceId})`, () =>
      this.http.patch(`v7/device(${deviceId})`, {
        json: { is_pinned_on__release: releaseId },
        retry: { methods: ['PATCH'] },
      }),
    );
  }

  private async get<S extends z.ZodType>(
    resource: string,
    searchParams: Record<string, string>,
    item: S,
  ): Promise<z.output<S>[]> {
    const what = `GET /v7/${resource}`;
    const body = await this.call(what, () =>
      this.http.get(`v7/${resource}`, { searchParams }).json(),
    );
    const r = list(item).safeParse(body);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new CloudApiResponseError(
        `${what}: unexpected answer at ${i?.path.join('.') || '(root)'}: ${i?.message}`,
        'cloud-api',
      );
    }
    return r.data.d as z.output<S>[];
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toBalenaError(e, 'cloud-api', what);
    }
  }
}
