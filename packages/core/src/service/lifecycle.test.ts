import { describe, expect, it } from 'vitest';
import type { Logger } from '../logger.js';
import { Lifecycle, type StartContext } from './lifecycle.js';

/** A logger that keeps its lines. */
function recordingLogger(): { logger: Logger; lines: { message: string; meta: unknown }[] } {
  const lines: { message: string; meta: unknown }[] = [];
  const record = (message: string, meta?: unknown) => {
    lines.push({ message, meta });
  };
  const logger: Logger = {
    debug: record,
    info: record,
    warn: record,
    error: record,
    child: () => logger,
  };
  return { logger, lines };
}

/** A promise with its resolve and reject. */
function deferred<T = void>() {
  let resolve: (value: T) => void = () => undefined;
  let reject: (err: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A lifecycle whose start runs `steps`; `undone` lists the undos in the order they ran. */
function lifecycleOf(start: (context: StartContext, undone: string[]) => Promise<void>) {
  const { logger, lines } = recordingLogger();
  const undone: string[] = [];
  const lifecycle = new Lifecycle({
    name: 'test service',
    logger,
    start: (context) => start(context, undone),
  });
  const states = () =>
    lines
      .filter((line) => line.message === 'service state')
      .map((line) => (line.meta as { state: string }).state);
  return { lifecycle, undone, lines, states };
}

/** Registers an undo that records its step. */
function step(context: StartContext, undone: string[], name: string): void {
  context.onClose(name, () => {
    undone.push(name);
  });
}

describe('Lifecycle', () => {
  it('starts once, runs, and closes every step in reverse order', async () => {
    let runs = 0;
    const { lifecycle, undone, states } = lifecycleOf((context, undone) => {
      runs += 1;
      step(context, undone, 'metrics server');
      step(context, undone, 'broker');
      step(context, undone, 'consumer');
      return Promise.resolve();
    });
    expect(lifecycle.state).toBe('idle');
    const first = lifecycle.start();
    expect(lifecycle.start()).toBe(first);
    expect(lifecycle.state).toBe('starting');
    await first;
    expect(runs).toBe(1);
    expect(lifecycle.state).toBe('running');
    await lifecycle.close();
    expect(undone).toEqual(['consumer', 'broker', 'metrics server']);
    expect(states()).toEqual(['starting', 'running', 'closing', 'closed']);
  });

  it('closes every started step when a step fails, and ends failed with the error', async () => {
    const refused = new Error('NoSuchBucket');
    const { lifecycle, undone, states } = lifecycleOf(async (context, undone) => {
      step(context, undone, 'S3 clients');
      step(context, undone, 'metrics server');
      step(context, undone, 'broker');
      await Promise.resolve();
      throw refused;
    });
    await expect(lifecycle.start()).rejects.toBe(refused);
    expect(undone).toEqual(['broker', 'metrics server', 'S3 clients']);
    expect(lifecycle.state).toBe('failed');
    expect(lifecycle.error).toBe(refused);
    expect(states()).toEqual(['starting', 'failed']);
    // Memoized: the same failure, nothing started again.
    await expect(lifecycle.start()).rejects.toBe(refused);
    // Nothing left to close; the state stays failed.
    await lifecycle.close();
    expect(undone).toHaveLength(3);
    expect(lifecycle.state).toBe('failed');
  });

  it('ends the waits of a failed start: a wait beside the failed step stops waiting', async () => {
    const broker = deferred();
    let brokerWaitEnded: unknown;
    const { lifecycle } = lifecycleOf(async (context) => {
      const waitForBroker = context.until(broker.promise).catch((err: unknown) => {
        brokerWaitEnded = err;
        throw err;
      });
      await Promise.all([Promise.reject(new Error('bucket refused')), waitForBroker]);
    });
    await expect(lifecycle.start()).rejects.toThrow('bucket refused');
    expect(brokerWaitEnded).toBeInstanceOf(Error);
  });

  it('runs every close step even when one fails, and logs the failure', async () => {
    const { lifecycle, undone, lines } = lifecycleOf((context, undone) => {
      step(context, undone, 'metrics server');
      context.onClose('broker', () => Promise.reject(new Error('connection reset')));
      step(context, undone, 'consumer');
      return Promise.resolve();
    });
    await lifecycle.start();
    await lifecycle.close();
    expect(undone).toEqual(['consumer', 'metrics server']);
    expect(lifecycle.state).toBe('closed');
    const failed = lines.find((line) => line.message === 'shutdown step failed');
    expect(failed?.meta).toMatchObject({ step: 'broker', error: { message: 'connection reset' } });
  });

  it('closes once however often close() is called, and the same promise every time', async () => {
    const slowUndo = deferred();
    let undos = 0;
    const { lifecycle } = lifecycleOf((context) => {
      context.onClose('slow', () => {
        undos += 1;
        return slowUndo.promise;
      });
      return Promise.resolve();
    });
    await lifecycle.start();
    const first = lifecycle.close();
    const second = lifecycle.close();
    expect(second).toBe(first);
    expect(lifecycle.state).toBe('closing');
    slowUndo.resolve();
    await Promise.all([first, second]);
    await lifecycle.close();
    expect(undos).toBe(1);
    expect(lifecycle.state).toBe('closed');
  });

  it('closed during start: interrupts the wait, closes what started, resolves the start', async () => {
    const broker = deferred();
    const waiting = deferred();
    let afterWait = false;
    const { lifecycle, undone, states } = lifecycleOf(async (context, undone) => {
      step(context, undone, 'metrics server');
      waiting.resolve();
      await context.until(broker.promise);
      afterWait = true;
      step(context, undone, 'consumer');
    });
    const starting = lifecycle.start();
    await waiting.promise;
    const closing = lifecycle.close();
    expect(lifecycle.state).toBe('closing');
    await closing;
    await expect(starting).resolves.toBeUndefined();
    expect(afterWait).toBe(false);
    expect(undone).toEqual(['metrics server']);
    expect(lifecycle.state).toBe('closed');
    expect(states()).toEqual(['starting', 'closing', 'closed']);
    // The broker answering afterwards changes nothing.
    broker.resolve();
    await Promise.resolve();
    expect(afterWait).toBe(false);
  });

  it('closed during a step that does not wait with until: closes it too once it started', async () => {
    const listening = deferred();
    const { lifecycle, undone } = lifecycleOf(async (context, undone) => {
      await listening.promise;
      step(context, undone, 'http server');
    });
    const starting = lifecycle.start();
    const closing = lifecycle.close();
    listening.resolve();
    await Promise.all([starting, closing]);
    expect(undone).toEqual(['http server']);
    expect(lifecycle.state).toBe('closed');
  });

  it('closed while a failed start is still closing its steps: waits for them, stays failed', async () => {
    const undoing = deferred();
    const slowUndo = deferred();
    const { lifecycle, undone } = lifecycleOf(async (context, undone) => {
      context.onClose('broker', async () => {
        undoing.resolve();
        await slowUndo.promise;
        undone.push('broker');
      });
      await Promise.resolve();
      throw new Error('topology mismatch');
    });
    const starting = lifecycle.start().catch((err: unknown) => err);
    await undoing.promise;
    let closed = false;
    const closing = lifecycle.close().then(() => {
      closed = true;
    });
    // Every pending callback runs; close() must still be waiting for the broker.
    await new Promise(setImmediate);
    expect(closed).toBe(false);
    slowUndo.resolve();
    await closing;
    expect(undone).toEqual(['broker']);
    expect(await starting).toMatchObject({ message: 'topology mismatch' });
    expect(lifecycle.state).toBe('failed');
  });

  it('closed before start: closed at once, and start() then rejects', async () => {
    let started = false;
    const { lifecycle } = lifecycleOf(() => {
      started = true;
      return Promise.resolve();
    });
    await lifecycle.close();
    expect(lifecycle.state).toBe('closed');
    await expect(lifecycle.start()).rejects.toThrow('cannot start a test service that is closed');
    expect(started).toBe(false);
  });
});
