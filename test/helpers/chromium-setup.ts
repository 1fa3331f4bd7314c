/**
 * Vitest globalSetup of the e2e project: makes sure Chromium is there for the console's browser
 * tests, installing it with apt-get when missing (as root). A tier that silently skips cannot
 * fail, so this fails the tier when Chromium can be neither found nor installed.
 */
import { ensureChromium } from './chromium.js';

export default async function setup(): Promise<void> {
  await ensureChromium();
}
