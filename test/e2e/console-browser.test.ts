/**
 * The operator's console in headless Chromium (Debian's), against a running pipeline of built
 * `s3relay` processes: the emulated VK source → ingress → RabbitMQ → 2 workers → a backup behind a
 * fault proxy, and `s3relay console`, which finds the others through the broker. Driven with the
 * keyboard as an operator would: a real failure appears in the dead-letter view, a replay from
 * the page brings the object into the backup, and a resync from the page shows its dry run first.
 * Screenshots land in test/e2e/screenshots/ (docs/console.png in the README is one of them).
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '@s3relay/emulator';
import { launchChromium, type TestBrowser } from '../helpers/chromium.js';
import {
  deleteQueuesWithPrefix,
  eventually,
  freePort,
  getObjectBytes,
  putObject,
  queueDepth,
  rabbitUrl,
  startS3Proxy,
  startS3Server,
  uniquePrefix,
  type S3Proxy,
  type TestS3,
} from '../helpers/index.js';
import { spawnCli, type CliProcess } from './cli-process.js';

const SOURCE = 'myfiles-ash';
const BACKUP = 'myfiles-backup';
/** The object the backup refuses (403) until the test "fixes" it. */
const POISONED = 'invoices/2026-11.pdf';
const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url));

describe('the console in a real browser, on a running pipeline', () => {
  let emulator: Emulator;
  let backup: TestS3;
  let proxy: S3Proxy;
  let source: S3Client;
  let browser: TestBrowser;
  let page: Page;
  let consoleUrl: string;
  const processes: CliProcess[] = [];
  const prefix = uniquePrefix('console-e2e');

  const shot = (name: string) =>
    page.screenshot({ path: `${SCREENSHOTS}console-${name}.png`, fullPage: true });
  const put = (key: string, text: string) => putObject(source, SOURCE, key, Buffer.from(text));
  const backupBytes = (key: string) => getObjectBytes(backup.client, BACKUP, key);

  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    emulator = await startEmulator({
      buckets: [SOURCE],
      delivery: { initialDelayMs: 200, maxDelayMs: 1000 },
    });
    backup = await startS3Server({ buckets: [BACKUP] });
    proxy = await startS3Proxy({ endpoint: backup.endpoint });
    source = new S3Client({
      endpoint: emulator.endpoint,
      region: emulator.region,
      forcePathStyle: true,
      credentials: emulator.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const [ingressPort, consolePort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AMQP_URL: rabbitUrl(),
      AMQP_PREFIX: prefix,
      HTTP_PORT: String(ingressPort),
      PUBLIC_URLS: `http://127.0.0.1:${ingressPort}/webhook/mcs`,
      SOURCE_S3_ENDPOINT: emulator.endpoint,
      SOURCE_S3_REGION: emulator.region,
      SOURCE_S3_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
      SOURCE_S3_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
      ...backup.env('DEST'),
      DEST_S3_ENDPOINT: proxy.endpoint,
      DEST_BUCKET: BACKUP,
      // One source bucket into a fixed backup bucket: the configuration must say which.
      SOURCE_BUCKETS: SOURCE,
      TELEMETRY_INTERVAL_MS: '500',
      CONSOLE_PORT: String(consolePort),
      LOG_LEVEL: 'warn',
    };
    processes.push(spawnCli(['ingress'], env));
    for (let index = 0; index < 2; index += 1) {
      processes.push(spawnCli(['worker'], { ...env, METRICS_PORT: String(await freePort()) }));
    }
    processes.push(spawnCli(['console'], env));
    consoleUrl = `http://127.0.0.1:${consolePort}/`;
    await eventually(
      async () => {
        for (const child of processes) expect(child.child.exitCode, child.output()).toBeNull();
        expect((await fetch(`http://127.0.0.1:${ingressPort}/readyz`)).status).toBe(200);
        expect((await fetch(`${consoleUrl}healthz`)).status).toBe(200);
      },
      { timeoutMs: 60_000, intervalMs: 250, message: 'the pipeline did not start' },
    );
    await emulator.registerWebhook(SOURCE, `http://127.0.0.1:${ingressPort}/webhook/mcs`);
    browser = await launchChromium();
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(processes.map((child) => child.stop('SIGTERM', 10_000)));
    source?.destroy();
    await proxy?.close();
    await emulator?.close();
    await backup?.close();
    await deleteQueuesWithPrefix(rabbitUrl(), prefix);
  });

  it('shows a real failure in the dead-letter view, and a replay from the page brings the object', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    proxy.addFault({
      op: 'PutObject',
      key: POISONED,
      action: { type: 'status', status: 403, code: 'AccessDenied' },
    });
    await page.goto(consoleUrl);
    // Every process is found through the broker: the ingress and both workers.
    const processRows = page.locator('#processes tbody tr');
    await expect.poll(() => processRows.count(), { timeout: 20_000 }).toBe(3);
    await expect
      .poll(() => processRows.allInnerTexts())
      .toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^ingress/),
          expect.stringMatching(/^worker.*live$/),
        ]),
      );

    for (let index = 0; index < 24; index += 1) {
      await put(`photos/2026/${String(index).padStart(3, '0')}.jpg`, `photo ${index}`);
    }
    await put(POISONED, 'the November invoice');
    await eventually(async () => expect(await backupBytes('photos/2026/023.jpg')).toBeDefined(), {
      timeoutMs: 30_000,
      message: 'the photos did not arrive',
    });
    await eventually(async () => expect(await queueDepth(rabbitUrl(), `${prefix}.dlq`)).toBe(1), {
      timeoutMs: 30_000,
      message: 'the invoice was not parked',
    });
    const parked = page.getByRole('group', { name: 'Parked' });
    await expect.poll(() => parked.innerText(), { timeout: 20_000 }).toContain('1');
    await expect
      .poll(() => page.locator('#failures tbody').innerText(), { timeout: 20_000 })
      .toContain('RELAY_S3_ACCESS_DENIED');
    await expect
      .poll(() => page.getByRole('group', { name: 'Copied' }).innerText(), { timeout: 20_000 })
      .not.toMatch(/^Copied\s+0\/s/);
    await shot('overview');

    // To the dead letters, by keyboard; the first visit scans the DLQ.
    await page.keyboard.press('2');
    const row = page.getByRole('row', { name: new RegExp(POISONED) });
    await row.waitFor({ timeout: 20_000 });
    expect(await row.innerText()).toContain('RELAY_S3_ACCESS_DENIED');
    await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    const entry = page.getByRole('dialog', { name: POISONED });
    await entry.waitFor();
    const detail = await entry.innerText();
    expect(detail).toContain('x-s3relay-error-code');
    expect(detail).toContain('AccessDenied');
    expect(detail).toContain(`"bucket": "${SOURCE}"`);
    await shot('dlq-entry');
    await page.keyboard.press('Escape');
    await entry.waitFor({ state: 'hidden' });

    await page.keyboard.press('x');
    await expect.poll(() => row.getAttribute('aria-selected')).toBe('true');
    await shot('dlq');

    // Dropping asks for the word first; cancelled, nothing is dropped.
    await page.keyboard.press('d');
    const drop = page.getByRole('dialog', { name: 'Drop 1 parked task?' });
    await drop.waitFor({ timeout: 20_000 });
    const dropButton = drop.getByRole('button', { name: 'Drop 1 task' });
    expect(await dropButton.isDisabled()).toBe(true);
    await page.keyboard.type('drop');
    expect(await dropButton.isEnabled()).toBe(true);
    await page.keyboard.press('Escape');
    await drop.waitFor({ state: 'hidden' });
    expect(await queueDepth(rabbitUrl(), `${prefix}.dlq`)).toBe(1);

    // The cause is fixed; replay the selected task, confirming in the dialog.
    proxy.clearFaults();
    await page.keyboard.press('r');
    const confirm = page.getByRole('dialog', { name: 'Replay 1 parked task?' });
    await confirm.waitFor({ timeout: 20_000 });
    expect(await confirm.innerText()).toContain(POISONED);
    expect(await confirm.getByLabel('Type drop to confirm').isVisible()).toBe(false);
    await shot('dlq-confirm');
    // Cancel has the focus (the safe default); the confirmation is one Tab further.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('#dlq-summary').innerText(), { timeout: 30_000 })
      .toContain('Replayed 1 task.');
    await eventually(
      async () => expect((await backupBytes(POISONED))?.toString()).toBe('the November invoice'),
      { timeoutMs: 30_000, message: 'the replayed task did not bring the invoice' },
    );
    await expect
      .poll(() => page.locator('#dlq-table tbody').innerText())
      .toContain('No parked task matches.');
    expect(errors).toEqual([]);
  });

  it('runs a resync from the page: the dry run first, then the tasks', async () => {
    // A webhook the backup never got: the object is gone from the backup only.
    await backup.client.send(
      new DeleteObjectCommand({ Bucket: BACKUP, Key: 'photos/2026/007.jpg' }),
    );
    await page.keyboard.press('4');
    const bucket = page.getByLabel('Source bucket');
    await bucket.focus();
    await page.keyboard.type(SOURCE);
    await page.keyboard.press('Enter');
    const run = page.getByRole('button', { name: 'Enqueue 1 task' });
    await run.waitFor({ timeout: 30_000 });
    const counts = await page.locator('#resync-counts').innerText();
    expect(counts).toMatch(/Missing[\s\S]*Would enqueue/);
    // 24 photos and the invoice compared; one missing, and one task it would enqueue.
    expect(counts.split('\n').at(-1)?.split('\t')).toEqual(['25', '24', '1', '0', '0', '1']);
    expect(await page.locator('#resync-result').innerText()).toContain('photos/2026/007.jpg');
    // The dry run enqueued nothing.
    expect(await backupBytes('photos/2026/007.jpg')).toBeUndefined();
    expect(await queueDepth(rabbitUrl(), `${prefix}.tasks`)).toBe(0);
    await shot('resync');

    await run.click();
    const confirm = page.getByRole('dialog', { name: `Enqueue 1 task for ${SOURCE}?` });
    await confirm.waitFor();
    await confirm.getByRole('button', { name: 'Enqueue 1 task' }).click();
    await expect
      .poll(() => page.locator('#resync-progress').innerText(), { timeout: 30_000 })
      .toContain('1 task enqueued');
    await eventually(
      async () => expect((await backupBytes('photos/2026/007.jpg'))?.toString()).toBe('photo 7'),
      { timeoutMs: 30_000, message: 'the resync did not restore the object' },
    );
  });

  it('fits a laptop screen: no sideways scrolling at 1366 × 768', async () => {
    await page.setViewportSize({ width: 1366, height: 768 });
    for (const view of ['1', '2', '4']) {
      await page.keyboard.press(view);
      // A string: this file is typed for Node, the expression runs in the page.
      const overflow = await page.evaluate<number>(
        'document.documentElement.scrollWidth - window.innerWidth',
      );
      expect(overflow, `view ${view}`).toBeLessThanOrEqual(0);
    }
    await page.keyboard.press('1');
    await page.screenshot({ path: `${SCREENSHOTS}console-laptop.png` });
  });
});
