import { describe, expect, it } from 'vitest';
import { BusyError, Jobs } from './jobs.js';

describe('Jobs', () => {
  it('runs one operation at a time and keeps its progress and result', async () => {
    const jobs = new Jobs();
    let finish: (value: string) => void = () => undefined;
    const started = jobs.start('dlq-scan', (progress) => {
      progress({ scanned: 3 });
      return new Promise<string>((resolve) => {
        finish = resolve;
      });
    });
    expect(started.state).toBe('running');
    expect(jobs.get(started.id)?.progress).toEqual({ scanned: 3 });
    expect(() => jobs.start('dlq-drop', () => Promise.resolve())).toThrow(BusyError);

    finish('the result');
    await jobs.idle();
    expect(jobs.get(started.id)).toMatchObject({ state: 'done', result: 'the result' });
    expect(jobs.start('dlq-drop', () => Promise.resolve()).state).toBe('running');
  });

  it('keeps the error of a failed operation and frees the way for the next', async () => {
    const jobs = new Jobs();
    const failed = jobs.start('resync', () => Promise.reject(new Error('NoSuchBucket')));
    await jobs.idle();
    expect(jobs.get(failed.id)).toMatchObject({ state: 'failed', error: 'NoSuchBucket' });
    expect(jobs.running).toBeUndefined();
  });
});
