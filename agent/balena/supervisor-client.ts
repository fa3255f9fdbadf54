// Client of the on-device balena supervisor API (v1/v2), reached through the
// io.balena.features.supervisor-api label: BALENA_SUPERVISOR_ADDRESS + BALENA_SUPERVISOR_API_KEY.
// Every answer is validated: a supervisor is a peer, and peers can be wrong.
import type { Got } from 'got';
import { z } from 'zod';
import { createBalenaHttp, type HttpSettings } from './balena-http.js';
import { SupervisorResponseError, toBalenaError } from './errors.js';

type Env = Record<string, string | undefined>;

export interface SupervisorClientOptions extends HttpSettings {
  address: string;
  apiKey: string;
  /** Needed by restart-service; balena sets BALENA_APP_ID. */
  appId?: string | undefined;
}

const deviceSchema = z.looseObject({
  api_port: z.number().optional(),
  ip_address: z.string().nullable().optional(),
  commit: z.string().nullable().optional(),
  status: z.string().optional(),
  download_progress: z.number().nullable().optional(),
  os_version: z.string().nullable().optional(),
  supervisor_version: z.string().optional(),
  update_pending: z.boolean().optional(),
  update_downloaded: z.boolean().optional(),
  update_failed: z.boolean().optional(),
});
export type SupervisorDevice = z.infer<typeof deviceSchema>;

const serviceStateSchema = z.looseObject({
  status: z.string(),
  releaseId: z.number().nullable().optional(),
  downloadProgress: z.number().nullable().optional(),
});
const appsStateSchema = z.record(
  z.string(),
  z.looseObject({
    appId: z.number(),
    commit: z.string().nullable().optional(),
    services: z.record(z.string(), serviceStateSchema),
  }),
);
export type ApplicationsState = z.infer<typeof appsStateSchema>;

const stateStatusSchema = z.looseObject({
  status: z.string(),
  appState: z.string(),
  overallDownloadProgress: z.number().nullable().optional(),
  containers: z.array(z.looseObject({ serviceName: z.string(), status: z.string() })).default([]),
  release: z.string().nullable().optional(),
});
export type StateStatus = z.infer<typeof stateStatusSchema>;

const tagsSchema = z.looseObject({
  status: z.literal('success'),
  tags: z.array(z.looseObject({ id: z.number().optional(), name: z.string(), value: z.string() })),
});

export class SupervisorClient {
  private readonly http: Got;
  readonly appId: string | undefined;

  constructor(opts: SupervisorClientOptions) {
    this.http = createBalenaHttp(opts.address, opts.apiKey, opts);
    this.appId = opts.appId;
  }

  /** A client when running under balena with the supervisor-api label, else null. */
  static fromEnv(env: Env, settings: HttpSettings = {}): SupervisorClient | null {
    const address = env.BALENA_SUPERVISOR_ADDRESS;
    const apiKey = env.BALENA_SUPERVISOR_API_KEY;
    if (!address || !apiKey) return null;
    return new SupervisorClient({ ...settings, address, apiKey, appId: env.BALENA_APP_ID });
  }

  async ping(): Promise<boolean> {
    const body = await this.call('GET /ping', () => this.http.get('ping').text());
    return body.trim() === 'OK';
  }

  device(): Promise<SupervisorDevice> {
    return this.json('GET /v1/device', deviceSchema, () => this.http.get('v1/device').json());
  }

  applicationsState(): Promise<ApplicationsState> {
    return this.json('GET /v2/applications/state', appsStateSchema, () =>
      this.http.get('v2/applications/state').json(),
    );
  }

  stateStatus(): Promise<StateStatus> {
    return this.json('GET /v2/state/status', stateStatusSchema, () =>
      this.http.get('v2/state/status').json(),
    );
  }

  async restartService(serviceName: string, appId = this.appId): Promise<void> {
    if (!appId)
      throw new SupervisorResponseError('restart-service: BALENA_APP_ID unknown', 'supervisor');
    await this.call('POST /v2/applications/:appId/restart-service', () =>
      this.http.post(`v2/applications/${encodeURIComponent(appId)}/restart-service`, {
        json: { serviceName },
      }),
    );
  }

  async reboot(force = false): Promise<void> {
    await this.call('POST /v1/reboot', () => this.http.post('v1/reboot', { json: { force } }));
  }

  /** Ask the supervisor to check for an update now (force also overrides update locks). */
  async update(force = false): Promise<void> {
    await this.call('POST /v1/update', () => this.http.post('v1/update', { json: { force } }));
  }

  async deviceTags(): Promise<Record<string, string>> {
    const r = await this.json('GET /v2/device/tags', tagsSchema, () =>
      this.http.get('v2/device/tags').json(),
    );
    return Object.fromEntries(r.tags.map((t) => [t.name, t.value]));
  }

  /** Set tags (supervisor >= 17.8). Setting a tag to its current value is harmless, so this may be retried. */
  async patchDeviceTags(tags: Record<string, string>): Promise<void> {
    await this.call('PATCH /v2/device/tags', () =>
      this.http.patch('v2/device/tags', { json: tags, retry: { limit: 0 } }),
    );
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw toBalenaError(e, 'supervisor', what);
    }
  }

  private async json<S extends z.ZodType>(
    what: string,
    schema: S,
    fn: () => Promise<unknown>,
  ): Promise<z.output<S>> {
    const body = await this.call(what, fn);
    const r = schema.safeParse(body);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new SupervisorResponseError(
        `${what}: unexpected answer at ${i?.path.join('.') || '(root)'}: ${i?.message}`,
        'supervisor',
      );
    }
    return r.data;
  }
}
