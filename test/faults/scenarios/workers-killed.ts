import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Scenario } from '../scenario.js';

/** Kills of every worker at once while a multipart upload is open, at most (CI size). */
const MID_MULTIPART_KILLS = 3;

/**
 * Workers are killed with SIGKILL at random, and all at once while a multipart upload is open
 * (the one copying it is among them), then started again as a supervisor would.
 */
export const workersKilled: Scenario = {
  name: 'workers-killed',
  fault:
    'workers killed with SIGKILL at random every 2-5 s, and all of them while a multipart upload is open; restarted at once',
  broker: 'shared',
  workers: 4,
  // Every task a killed worker held counts as a delivery, however innocent: with kills every few
  // seconds a long copy is hit again and again, and the default limit (10) would park it (soaks
  // did: RELAY_TASK_DELIVERY_LIMIT). This scenario is about loss, not about poison tasks.
  env: { AMQP_DELIVERY_LIMIT: '50' },
  load: (size) => ({
    durationMs: size.loadMs,
    opsPerSecond: 10,
    bigObjects: Math.round(4 * size.scale),
    bigOverwrites: 1,
    poison: 2,
  }),
  async inject(context) {
    const { stack } = context;
    let midMultipart = 0;
    const maxMidMultipart = Math.round(MID_MULTIPART_KILLS * Math.max(1, context.size.scale));
    /** Uploads open when their worker was killed: nobody will complete or abort them. */
    const atKill = new Set<string>();
    /**
     * Kills per key copied: a task killed with its worker counts towards AMQP_DELIVERY_LIMIT
     * (a task that kills its worker every time must be parked), so no key is hit more than twice.
     */
    const hitsPerKey = new Map<string, number>();
    let nextRandomKill = Date.now() + randomInt(2000, 5000);
    const restarts: Promise<unknown>[] = [];
    const killAndRestart = async (index: number) => {
      await stack.workers[index]?.kill('SIGKILL');
      context.count('kills');
      // Not awaited for readiness: the next kill may hit a worker still starting.
      restarts.push(stack.startWorker(index, false));
    };
    while (!context.loadDone.aborted) {
      await sleep(100);
      const open = stack.backupProxy
        .openMultipartUploads()
        .filter((upload) => !atKill.has(upload.uploadId));
      const partsSent = stack.backupProxy.operations.some(
        (op) => op.op === 'UploadPart' && op.durationMs === -1,
      );
      const fresh = open.some((upload) => (hitsPerKey.get(upload.key) ?? 0) < 2);
      if (fresh && partsSent && midMultipart < maxMidMultipart) {
        midMultipart += 1;
        for (const upload of open) {
          atKill.add(upload.uploadId);
          hitsPerKey.set(upload.key, (hitsPerKey.get(upload.key) ?? 0) + 1);
        }
        context.count('kills mid-multipart (all workers)');
        await Promise.all(stack.workers.map((_, index) => killAndRestart(index)));
        // Give the restarted workers time to pick the tasks up again.
        await sleep(4000);
        continue;
      }
      if (Date.now() >= nextRandomKill) {
        await killAndRestart(randomInt(stack.workers.length));
        nextRandomKill = Date.now() + randomInt(2000, 5000);
      }
    }
    await Promise.all(restarts);
    context.expect(
      midMultipart > 0,
      'no worker was killed during a multipart upload: the load made none in time',
    );
    // Proof that the kills hit uploads in flight: some were left open, for the janitor.
    const orphaned = stack.backupProxy
      .openMultipartUploads()
      .filter((upload) => atKill.has(upload.uploadId)).length;
    context.note('uploads orphaned by kills', orphaned);
    context.expect(orphaned > 0, 'no multipart upload was left open by a killed worker');
  },
};
