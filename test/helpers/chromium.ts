import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (package `chromium`). */
export const CHROMIUM_PATH = '/usr/bin/chromium';
const INSTALL_SCRIPT = fileURLToPath(new URL('../../scripts/install-chromium.sh', import.meta.url));

/**
 * Flags for a headless Chromium on a machine without a network: no GPU, no QUIC, no first-run
 * work, no background connections to Google's services (each of which this machine refuses).
 */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Installs Chromium with the project's script when it is missing (root with apt-get only). */
export async function ensureChromium(): Promise<void> {
  if (existsSync(CHROMIUM_PATH)) return;
  process.stderr.write('[s3relay test bed] Chromium is missing; installing it with apt-get\n');
  try {
    await promisify(execFile)('bash', [INSTALL_SCRIPT], { timeout: 15 * 60_000 });
  } catch (err) {
    throw new Error(
      `Chromium is not at ${CHROMIUM_PATH} and could not be installed (${String(err)}); ` +
        'run scripts/install-chromium.sh as root, or apt-get install chromium',
    );
  }
}

/** A browser with a fresh profile of its own, and one page. */
export interface TestBrowser {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

/** Starts headless Chromium; rejects (never skips) when it cannot start. */
export async function launchChromium(
  viewport = { width: 1440, height: 900 },
): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not at ${CHROMIUM_PATH}: run scripts/install-chromium.sh`);
  }
  const profile = await mkdtemp(join(tmpdir(), 's3relay-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: FLAGS,
      viewport,
      timeout: 60_000,
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw new Error(`Chromium at ${CHROMIUM_PATH} did not start: ${String(err)}`, { cause: err });
  }
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
