// The Node-RED side of the bench's `node-red` phase (bench/node-red-baseline.ts): the flow it runs
// and its headless settings, generated per run into a temporary userDir.

/** Where the flow publishes; the bench's subscriber counts this topic. */
export const NODE_RED_TOPIC = 'wms/bench/node-red/data';

export interface NodeRedWorkload {
  /** Read blocks (one modbus-read node each). */
  blocks: number;
  /** Registers per read (2 per float32). */
  registers: number;
  intervalMs: number;
  seconds: number;
}

/**
 * The flow: one modbus-client (TCP, unit 1, the editor's defaults: queued commands unless `queue`
 * is false, 1 ms command delay, 1 s timeout) to the simulator; per block one modbus-read (FC3
 * holding registers, adr b×registers, quantity registers, every intervalMs ms), all wired to one
 * function node that decodes the answer's bytes as big-endian float32 (the agent's default word
 * order) into
 * `{ ts, values: { t<i>: number } }` — the agent's JSON shape, tags named as the agent's phase names
 * them — and one `mqtt out` node publishing it at QoS 1, not retained.
 */
export function nodeRedFlow(
  sim: { port: number },
  broker: { port: number },
  w: NodeRedWorkload,
  queue: boolean,
) {
  const tab = 'bench-tab';
  const client = 'bench-modbus-client';
  const fn = 'bench-decode';
  const out = 'bench-mqtt-out';
  const mqttBroker = 'bench-mqtt-broker';
  const func = [
    'const buf = msg.responseBuffer.buffer;',
    `const base = msg.input.payload.address / 2;`,
    'const values = {};',
    'for (let i = 0; i + 4 <= buf.length; i += 4) values["t" + (base + i / 4)] = buf.readFloatBE(i);',
    `return { topic: ${JSON.stringify(NODE_RED_TOPIC)}, payload: JSON.stringify({ ts: new Date().toISOString(), values }) };`,
  ].join('\n');
  const reads = Array.from({ length: w.blocks }, (_, b) => ({
    id: `bench-read-${b}`,
    type: 'modbus-read',
    z: tab,
    name: `block ${b}`,
    topic: '',
    showStatusActivities: false,
    logIOActivities: false,
    showErrors: false,
    unitid: '1',
    dataType: 'HoldingRegister',
    adr: String(b * w.registers),
    quantity: String(w.registers),
    rate: String(w.intervalMs),
    rateUnit: 'ms',
    delayOnStart: false,
    startDelayTime: '',
    server: client,
    useIOFile: false,
    ioFile: '',
    useIOForPayload: false,
    emptyMsgOnFail: false,
    x: 150,
    y: 40 + b * 40,
    wires: [[fn], []],
  }));
  return [
    { id: tab, type: 'tab', label: 'bench', disabled: false, info: '' },
    {
      id: client,
      type: 'modbus-client',
      name: 'simulator',
      clienttype: 'tcp',
      bufferCommands: queue,
      stateLogEnabled: false,
      queueLogEnabled: false,
      failureLogEnabled: true,
      tcpHost: '127.0.0.1',
      tcpPort: String(sim.port),
      tcpType: 'DEFAULT',
      serialPort: '/dev/ttyUSB',
      serialType: 'RTU-BUFFERD',
      serialBaudrate: '9600',
      serialDatabits: '8',
      serialStopbits: '1',
      serialParity: 'none',
      serialConnectionDelay: '100',
      serialAsciiResponseStartDelimiter: '0x3A',
      unit_id: '1',
      commandDelay: '1',
      clientTimeout: '1000',
      reconnectOnTimeout: true,
      reconnectTimeout: '2000',
      parallelUnitIdsAllowed: true,
    },
    ...reads,
    {
      id: fn,
      type: 'function',
      z: tab,
      name: 'float32 → JSON',
      func,
      outputs: 1,
      timeout: 0,
      noerr: 0,
      initialize: '',
      finalize: '',
      libs: [],
      x: 400,
      y: 40,
      wires: [[out]],
    },
    {
      id: out,
      type: 'mqtt out',
      z: tab,
      name: '',
      topic: '',
      qos: '1',
      retain: 'false',
      respTopic: '',
      contentType: '',
      userProps: '',
      correl: '',
      expiry: '',
      broker: mqttBroker,
      x: 600,
      y: 40,
      wires: [],
    },
    {
      id: mqttBroker,
      type: 'mqtt-broker',
      name: 'bench mosquitto',
      broker: '127.0.0.1',
      port: String(broker.port),
      clientid: 'bench-node-red',
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
      autoUnsubscribe: true,
      birthTopic: '',
      closeTopic: '',
      willTopic: '',
    },
  ];
}

/** Headless: no editor, no admin API, no HTTP nodes, loopback only, nothing written to the repo. */
export function settingsFile(userDir: string, uiPort: number): string {
  const settings = {
    uiHost: '127.0.0.1',
    uiPort,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    userDir,
    flowFile: 'flows.json',
    credentialSecret: false,
    logging: { console: { level: 'warn', metrics: false, audit: false } },
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    functionExternalModules: false,
    editorTheme: { projects: { enabled: false } },
  };
  return `module.exports = ${JSON.stringify(settings, null, 2)};\n`;
}
