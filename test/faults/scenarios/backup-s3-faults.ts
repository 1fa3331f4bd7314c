import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Operation } from '../../helpers/s3-proxy.js';
import type { Scenario, ScenarioContext } from '../scenario.js';

/** The figure: a third of requests answer 503 SlowDown for a minute. */
const SLOWDOWN_MS = 60_000;
/** How long a stalled answer is held. */
const STALL_MS = 10_000;
/** Waiting for a matching request to come by, at most. */
const WAIT_FOR_REQUEST_MS = 30_000;

const uploads = (op: S3Operation) => op.op === 'UploadPart' || op.op === 'PutObject';

/**
 * The backup S3 misbehaves in three ways in a row: SlowDown to a third of requests for a
 * minute, then connections reset while part and object bodies are being sent, then answers that
 * stall.
 */
export const backupS3Faults: Scenario = {
  name: 'backup-s3-faults',
  fault: `the backup S3 answers 503 SlowDown to a third of requests for ${SLOWDOWN_MS / 1000} s, then resets connections mid-body (2 part uploads, 2 puts), then stalls answers for ${STALL_MS / 1000} s (a part upload, a put)`,
  broker: 'shared',
  workers: 3,
  load: (size) => ({
    durationMs: Math.max(size.loadMs, SLOWDOWN_MS + 20_000),
    opsPerSecond: 6,
    bigObjects: Math.max(6, Math.round(6 * size.scale)),
    poison: 2,
  }),
  async inject(context) {
    const proxy = context.stack.backupProxy;
    const removeSlowDown = proxy.addFault({
      op: '*',
      probability: 1 / 3,
      action: { type: 'status', status: 503, code: 'SlowDown' },
    });
    try {
      await sleep(SLOWDOWN_MS);
    } finally {
      removeSlowDown();
    }
    const slowDowns = proxy.operations.filter((op) => op.fault === 'status' && op.status === 503);
    context.note('503 SlowDown answered', slowDowns.length);
    context.expect(slowDowns.length >= 20, `only ${slowDowns.length} requests got 503 SlowDown`);

    await injectUntilHit(context, 'reset', () => [
      proxy.addFault({ op: 'UploadPart', times: 2, action: { type: 'reset' } }),
      proxy.addFault({
        op: 'PutObject',
        key: /^(?!poison\/)/,
        times: 2,
        action: { type: 'reset' },
      }),
    ]);
    context.note(
      'worker retries',
      await context.countInLog('worker', /"message":"task failed; retrying later"/),
    );
    await injectUntilHit(context, 'stall', () => [
      proxy.addFault({ op: 'UploadPart', times: 1, action: { type: 'stall', ms: STALL_MS } }),
      proxy.addFault({
        op: 'PutObject',
        key: /^(?!poison\/)/,
        times: 1,
        action: { type: 'stall', ms: STALL_MS },
      }),
    ]);
  },
};

/** Adds rules, waits until requests were hit by every one of them (bounded), removes them. */
async function injectUntilHit(
  context: ScenarioContext,
  fault: 'reset' | 'stall',
  add: () => (() => void)[],
): Promise<void> {
  const proxy = context.stack.backupProxy;
  const count = () => proxy.operations.filter((op) => op.fault === fault && uploads(op)).length;
  const before = count();
  const removers = add();
  const deadline = Date.now() + WAIT_FOR_REQUEST_MS;
  const parts = () =>
    proxy.operations.filter((op) => op.fault === fault && op.op === 'UploadPart').length;
  const partsBefore = parts();
  while (Date.now() < deadline && (count() - before < 2 || parts() - partsBefore < 1)) {
    await sleep(200);
  }
  for (const remove of removers) remove();
  const hits = count() - before;
  context.note(`${fault}s injected`, hits);
  context.note(`${fault}s of part uploads`, parts() - partsBefore);
  context.expect(parts() - partsBefore >= 1, `no part upload was hit by a ${fault}`);
  context.expect(hits >= 2, `only ${hits} uploads were hit by a ${fault}`);
}
