/**
 * The lag benchmark's source: the VK Cloud emulator in a process of its own, with its webhook
 * registered (VK's handshake included) to the URL given. Run as
 * `node --import tsx bench/lib/emulator-child.ts <bucket> <webhook url>`; prints
 * `READY <endpoint>` once registered, and its delivery stats as a result line on SIGTERM.
 */
import { startEmulator } from '@s3relay/emulator';
import { reportResult } from './node-child.js';

const [bucket = 'source', webhookUrl = ''] = process.argv.slice(2);
const emulator = await startEmulator({ host: '127.0.0.1', buckets: [bucket] });
await emulator.registerWebhook(bucket, webhookUrl);
process.stdout.write(`READY ${emulator.endpoint}\n`);
process.once('SIGTERM', () => {
  reportResult(emulator.stats());
  void emulator.close().finally(() => process.exit(0));
});
