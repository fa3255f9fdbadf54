// Debian's Chromium, headless, as the dashboard tests drive it (no browser download; flags that keep
// it off the network, which this machine does not have).
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** A test's `skip` option: false, or why the browser is missing. */
export const skipWithoutChromium = (): false | string =>
  existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (apt-get install chromium)`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
