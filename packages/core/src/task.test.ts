import { describe, expect, it } from 'vitest';
import { createTask, kindOf, parseTask, taskId, type TaskInput } from './task.js';

const input: TaskInput = {
  origin: 'mcs',
  eventName: 'ObjectCreated:Put',
  bucket: 'bucketA',
  key: 'some-file-to-bucket',
  size: 100,
  eTag: 'aed563ecafb4bcc5654c597a421547b2',
  versionId: null,
  sequencer: '1577453615',
  eventTime: null,
};

describe('task contract', () => {
  it('gives a redelivered event the same id and another event another id', () => {
    const a = createTask(input, new Date('2026-01-01T00:00:00Z'));
    const b = createTask(input, new Date('2026-01-02T00:00:00Z'));
    expect(a.id).toBe(b.id);
    expect(a.id).toMatch(/^[0-9a-f]{32}$/);
    expect(createTask({ ...input, sequencer: '1577453616' }).id).not.toBe(a.id);
    expect(createTask({ ...input, key: 'other' }).id).not.toBe(a.id);
    expect(createTask({ ...input, eventName: 'ObjectRemoved:Delete' }).id).not.toBe(a.id);
  });

  it('uses the eTag when there is no sequencer', () => {
    const withoutSequencer = { ...input, sequencer: null };
    expect(taskId(withoutSequencer)).not.toBe(taskId({ ...withoutSequencer, eTag: 'other' }));
  });

  it('does not confuse fields that concatenate alike', () => {
    expect(taskId({ ...input, bucket: 'ab', key: 'c' })).not.toBe(
      taskId({ ...input, bucket: 'a', key: 'bc' }),
    );
  });

  it('classifies event names', () => {
    expect(kindOf('ObjectCreated:CompleteMultipartUpload')).toBe('created');
    expect(kindOf('ObjectRemoved:DeleteMarkerCreated')).toBe('removed');
    expect(kindOf('LifecycleExpiration:Delete')).toBe('removed');
    expect(kindOf('ObjectLifecycle:Expiration:Current')).toBe('removed');
    expect(kindOf('ObjectTagging:Put')).toBe('other');
  });

  it('round-trips through JSON and validation', () => {
    const task = createTask(input);
    expect(parseTask(JSON.stringify(task))).toEqual({ ok: true, task });
  });

  it('rejects invalid messages with a reason instead of throwing', () => {
    expect(parseTask('not json')).toEqual({ ok: false, reason: 'message body is not JSON' });
    const task = createTask(input);
    const wrong = parseTask(JSON.stringify({ ...task, v: 2, key: '' }));
    expect(wrong.ok).toBe(false);
    expect(!wrong.ok && wrong.reason).toMatch(/v|key/);
    const longKey = parseTask(JSON.stringify({ ...task, key: 'ж'.repeat(513) }));
    expect(longKey.ok).toBe(false);
    const extra = parseTask(JSON.stringify({ ...task, surprise: true }));
    expect(extra.ok).toBe(false);
  });

  it('refuses a task whose bucket is not an S3 bucket name (a forged message)', () => {
    const task = createTask(input);
    for (const bucket of ['-rf', 'a/../b', 'x\ny']) {
      const parsed = parseTask(JSON.stringify({ ...task, bucket }));
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.reason).toMatch(/not an S3 bucket name[^]*at bucket/);
    }
  });
});
