// Headless Chromium for the tests that look at pages as a person does (Debian's chromium driven by
// playwright-core, no network beyond the page, no first-run or background traffic).
import { chromium, type Browser } from 'playwright-core';

/** The flags every browser test launches Chromium with. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches /usr/bin/chromium headless. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}
