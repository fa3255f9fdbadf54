// The `register` message (CONTRACT.md §8): what the WMS needs to know about this gateway, published
// retained on every connect — who it is, which build and slot run, which PLCs and tags it serves and
// which parts of the conversation it speaks.
import { randomUUID } from 'node:crypto';
import { arch, platform } from 'node:os';
import type { GatewayConfig } from '../config/schema.js';
import { certificateNotAfter, loadTlsMaterial } from '../link/tls-material.js';
import { X509Certificate } from 'node:crypto';

/** A new id every time the agent process starts: the WMS sees a restart even without an outage. */
export const BOOT_ID = randomUUID();

/** What this build speaks of the contract; the WMS may rely on each word listed. */
export const CAPABILITIES = [
  'data',
  'cmd.write',
  'cmd.read',
  'cmd.sequence',
  'config.set',
  'ota',
  'wms-ack',
  'peer-heartbeat',
  'gzip-inbound',
  'maintenance-window',
] as const;

export interface RegistrationInput {
  tenant: string;
  gatewayId: string;
  version: string;
  config: GatewayConfig;
  env: NodeJS.ProcessEnv;
  /** The active OTA slot, when OTA is attached. */
  slot?: string | undefined;
  /** The client certificate in use (a renewed one), when the identity manager runs. */
  cert?: { serial: string; notAfter: string } | undefined;
  capabilities?: readonly string[];
}

export function registration(r: RegistrationInput): Record<string, unknown> {
  const cfg = r.config;
  const out: Record<string, unknown> = {
    tenant: r.tenant,
    gateway: r.gatewayId,
    version: r.version,
    slot: r.slot ?? null,
    bootId: BOOT_ID,
    device: {
      type: cfg.ota.deviceType ?? r.env.BALENA_DEVICE_TYPE ?? `${platform()}-${arch()}`,
      uuid: r.env.BALENA_DEVICE_UUID ?? r.gatewayId,
    },
    plcs: cfg.plcs.map((p) => ({
      id: p.id,
      tags: p.groups.flatMap((g) =>
        g.tags.map((t) => ({ name: t.name, type: t.type, writable: t.writable })),
      ),
    })),
    capabilities: [...(r.capabilities ?? CAPABILITIES)],
    delivery: cfg.wms.delivery,
  };
  const cert = r.cert ?? clientCertificate(cfg.wms.tls);
  if (cert) out.cert = cert;
  return out;
}

function clientCertificate(
  tls: GatewayConfig['wms']['tls'],
): { serial: string; notAfter: string } | undefined {
  if (!tls.cert) return undefined;
  try {
    const pem = loadTlsMaterial(tls).cert;
    if (!pem) return undefined;
    return {
      serial: new X509Certificate(pem).serialNumber,
      notAfter: certificateNotAfter(pem).toISOString(),
    };
  } catch {
    return undefined; // the link reports unreadable TLS material itself
  }
}
