// `wms-gateway run`: load the config, start the embedded default when nothing is configured,
// start the core and the north apps, and shut down cleanly on SIGINT/SIGTERM (balena allows 10 s).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import { createLogger, type Logger } from '../../platform/logger.js';
import { Gateway } from './gateway.js';
import { VERSION } from '../../platform/version.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.js';
import { startServices, type Services } from './services.js';
import { RemoteConfigService } from '../remote-config/remote-config-service.js';

export const SHUTDOWN_GRACE_MS = 8000;

interface Embedded {
  broker?: EmbeddedBroker;
  simulator?: { close(): Promise<void> };
}

/** With no WMS URL the agent uses an in-process broker; with no PLC either, a simulated PLC too. */
async function startEmbeddedDefault(
  rc: ResolvedConfig,
  logger: Logger,
  env: NodeJS.ProcessEnv,
): Promise<Embedded> {
  const cfg = rc.config;
  const out: Embedded = {};
  if (cfg.wms.urls.length === 0) {
    const port = Number(env.EMBEDDED_MQTT_PORT ?? 1883);
    out.broker = await startEmbeddedBroker({ host: '127.0.0.1', port });
    cfg.wms.urls = [out.broker.url];
    cfg.wms.protocolVersion = 4; // aedes speaks MQTT 3.1.1
    logger.info(
      { url: out.broker.url },
      'embedded MQTT broker started (no WMS_MQTT_URL configured)',
    );
    if (cfg.plcs.length === 0) {
      const { startSimulator } = await import('../../plc/simulator/simulator.js');
      const { demoMap, demoPlcConfig } = await import('../../plc/simulator/demo.js');
      const simPort = Number(env.EMBEDDED_PLC_PORT ?? 5020);
      const sim = await startSimulator({ host: '127.0.0.1', port: simPort, map: demoMap });
      out.simulator = sim;
      cfg.plcs = [demoPlcConfig({ host: '127.0.0.1', port: sim.port })];
      // Demo only: unsigned commands so a user can try writes with mosquitto_pub on loopback.
      if (cfg.commands.keys.length === 0) cfg.commands.requireSignature = false;
      logger.info({ port: sim.port }, 'simulated PLC started (no PLC configured)');
    }
  }
  return out;
}

export async function runAgent(opts: {
  configPath?: string | undefined;
  dataDir?: string | undefined;
}): Promise<void> {
  const env = process.env;
  let rc = loadConfig({ configPath: opts.configPath, dataDir: opts.dataDir, env });
  mkdirSync(rc.dataDir, { recursive: true });
  const logger = createLogger({ file: join(rc.dataDir, 'logs', 'agent.log') });
  // A config applied remotely (config/set) stays in force across restarts, env vars still on top.
  const applied = await RemoteConfigService.appliedText(rc.dataDir);
  if (applied) {
    try {
      rc = {
        ...loadConfig({
          configPath: opts.configPath,
          dataDir: rc.dataDir,
          env: { ...env, GATEWAY_CONFIG_YAML: applied },
        }),
        source: 'config/applied.yaml (remote)',
      };
    } catch (e) {
      logger.error(
        { err: e instanceof Error ? e.message : String(e) },
        'remotely applied config is invalid; using the local config',
      );
    }
  }
  logger.info(
    {
      version: VERSION,
      config: rc.source,
      dataDir: rc.dataDir,
      gateway: rc.gatewayId,
      tenant: rc.tenant,
    },
    'starting',
  );
  // Handlers first: a Ctrl-C or SIGTERM during start-up still stops what has started, in order.
  const started: { embedded?: Embedded; gateway?: Gateway; services?: Services } = {};
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    try {
      await started.services?.stop();
      await started.gateway?.stop();
      await started.embedded?.simulator?.close();
      await started.embedded?.broker?.close();
    } catch (e) {
      logger.error({ err: e }, 'error during shutdown');
    }
    logger.info('stopped');
    logger.flush?.();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('unhandledRejection', (reason) =>
    logger.error({ err: reason }, 'unhandled rejection'),
  );

  const embedded = (started.embedded = await startEmbeddedDefault(rc, logger, env));
  if (stopping) return;
  const gateway = (started.gateway = new Gateway({
    config: rc.config,
    tenant: rc.tenant,
    gatewayId: rc.gatewayId,
    dataDir: rc.dataDir,
    version: VERSION,
    logger,
  }));
  await gateway.start();
  if (stopping) return;
  const services = (started.services = await startServices({ gateway, rc, logger, env }));

  if (embedded.broker) {
    const port = embedded.broker.port;
    process.stdout.write(
      [
        '',
        'wms-gateway is running on its embedded default.',
        `  Watch the data:  mosquitto_sub -h 127.0.0.1 -p ${port} -t 'wms/${rc.tenant}/${rc.gatewayId}/#' -v`,
        `  Dashboard:       http://127.0.0.1:${services.httpPort ?? rc.httpPort}/`,
        '  Stop:            Ctrl-C',
        '',
      ].join('\n') + '\n',
    );
  }
}
