// Files the dashboard loads besides its own page: the chart library (uPlot) from the installed
// package, served by the gateway itself because gateways are often offline (no CDN). Read once.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface StaticAsset {
  body: Buffer;
  type: string;
}

const SOURCES: Record<string, { module: string; type: string }> = {
  '/assets/uplot.js': {
    module: 'uplot/dist/uPlot.iife.min.js',
    type: 'text/javascript; charset=utf-8',
  },
  '/assets/uplot.css': { module: 'uplot/dist/uPlot.min.css', type: 'text/css; charset=utf-8' },
};

let loaded: Map<string, StaticAsset> | undefined;

/** The assets by URL path; a missing package is an install fault, so it throws at server start. */
export function staticAssets(): Map<string, StaticAsset> {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  loaded = new Map(
    Object.entries(SOURCES).map(([path, s]) => [
      path,
      { body: readFileSync(require.resolve(s.module)), type: s.type },
    ]),
  );
  return loaded;
}
