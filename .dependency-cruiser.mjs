// The dependency rule of docs/architecture.md, checked by `npm run lint` (depcruise). Imports follow the
// data: plc/ (south) knows nothing of agent/ or ota/; ota/ nothing of agent/; platform/ (the pieces
// everyone needs) nothing of the three; the launcher, which OTA never updates, stays small.
/** What the launcher (the image's entry point) may reach, directly or through others. */
const LAUNCHER_CLOSURE = [
  '^ota/launcher/',
  '^ota/config/schema[.]ts$',
  '^ota/errors[.]ts$',
  '^ota/device/(hold|op-lock|paths|slot-switch|state-store|states)[.]ts$',
  '^platform/(config-source|config-yaml|config-error|config-fields|zod-issues|logger|version|atomic-file)[.]ts$',
];
/** The npm packages the launcher may load (node-cron, mqtt, modbus-serial ... are the agent's). */
const LAUNCHER_PACKAGES = ['zod', 'js-yaml', 'pino', 'pino-pretty'];

export default {
  forbidden: [
    {
      name: 'plc-is-south',
      comment: 'plc/ imports nothing from agent/ or ota/ (docs/architecture.md, "Dependency rule")',
      severity: 'error',
      from: { path: '^plc/' },
      to: { path: '^(agent|ota)/' },
    },
    {
      name: 'ota-not-agent',
      comment: 'ota/ imports nothing from agent/: the agent calls OTA, never the other way round',
      severity: 'error',
      from: { path: '^ota/' },
      to: { path: '^agent/' },
    },
    {
      name: 'platform-stands-alone',
      comment: 'platform/ imports nothing from plc/, agent/ or ota/',
      severity: 'error',
      from: { path: '^platform/' },
      to: { path: '^(plc|agent|ota)/' },
    },
    {
      name: 'launcher-stays-small',
      comment:
        'the launcher (ota/launcher/main.ts) reaches only the modules and packages allowed in .dependency-cruiser.mjs',
      severity: 'error',
      from: { path: '^ota/launcher/main[.]ts$' },
      to: {
        reachable: true,
        pathNot: [
          ...LAUNCHER_CLOSURE,
          `^node_modules/(${LAUNCHER_PACKAGES.join('|')})/`,
          '^(node:)?[a-z_/]+$', // node's own modules
        ],
      },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
