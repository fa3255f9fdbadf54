// `health:` section of the config: resource thresholds (with hysteresis) and the self-healing watchdog.
import { z } from 'zod';

const level = (warn: number, critical: number, max: number) =>
  z
    .strictObject({
      warn: z.number().min(0).max(max).default(warn),
      critical: z.number().min(0).max(max).default(critical),
    })
    .prefault({})
    .refine((t) => t.warn <= t.critical, { message: 'warn must not exceed critical' });

export const watchdogSchema = z
  .strictObject({
    checkIntervalMs: z
      .number()
      .int()
      .min(50)
      .max(60_000)
      .default(1000)
      .describe('How often components are checked for progress'),
    stallSeconds: z
      .number()
      .min(0.1)
      .max(3600)
      .default(60)
      .describe(
        'A component making no progress this long is restarted (per component overridable)',
      ),
    backoffMinMs: z
      .number()
      .int()
      .min(0)
      .max(600_000)
      .default(1000)
      .describe('Wait before a second restart'),
    backoffMaxMs: z
      .number()
      .int()
      .min(1)
      .max(3_600_000)
      .default(60_000)
      .describe('Cap of the restart backoff'),
    maxRestarts: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe(
        'Restarts of one component within windowSeconds before the agent exits (balena restarts it)',
      ),
    windowSeconds: z.number().min(1).max(86_400).default(600),
    maxIncidents: z
      .number()
      .int()
      .min(10)
      .max(100_000)
      .default(1000)
      .describe('Incidents kept in $DATA_DIR/incidents.jsonl'),
  })
  .prefault({});

export const healthSchema = z
  .strictObject({
    intervalSeconds: z.number().min(1).max(3600).default(15).describe('Resource sampling period'),
    hysteresis: z
      .number()
      .min(0)
      .max(50)
      .default(5)
      .describe('A level clears only this far (percent points, ms, °C) below its threshold'),
    cpu: level(85, 97, 100).describe('CPU use, percent'),
    memory: level(85, 95, 100).describe('Memory use, percent'),
    disk: level(80, 95, 100).describe('Use of the $DATA_DIR file system, percent'),
    temperature: level(75, 85, 150).describe('CPU temperature, °C, where the board reports it'),
    eventLoopLagMs: level(200, 1000, 60_000).describe(
      'Event loop delay (p99 over the interval), ms',
    ),
    outboxFill: level(50, 90, 100).describe('Outbox use, percent of wms.outbox.maxBytes'),
    plcDownIsCritical: z
      .boolean()
      .default(false)
      .describe('true: one disconnected PLC makes the gateway failing (default: degraded)'),
    watchdog: watchdogSchema,
  })
  .prefault({});

export type HealthConfig = z.output<typeof healthSchema>;
export type WatchdogConfig = z.output<typeof watchdogSchema>;
export type LevelThresholds = { warn: number; critical: number };
