import { describe, expect, it } from 'vitest';
import { decideExtras, type ExtrasInput } from './extras-decision.js';

const base: ExtrasInput = {
  extras: 5,
  sourceObjects: 100,
  wantDelete: true,
  maxDelete: 1000,
  allowEmptySource: false,
  sourceBucket: 'data',
  prefix: '',
  backupBucket: 'data-backup',
};

describe('decideExtras', () => {
  it('only reports extras without --delete, or when there are none', () => {
    expect(decideExtras({ ...base, wantDelete: false })).toEqual({ action: 'report' });
    expect(decideExtras({ ...base, extras: 0, sourceObjects: 0 })).toEqual({ action: 'report' });
  });

  it('deletes extras within --max-delete while the source lists objects', () => {
    expect(decideExtras(base)).toEqual({ action: 'delete' });
    expect(decideExtras({ ...base, extras: 1000 })).toEqual({ action: 'delete' });
    expect(decideExtras({ ...base, extras: 10 ** 6, maxDelete: 'all' })).toEqual({
      action: 'delete',
    });
  });

  it('refuses an empty source listing beside a non-empty backup, unless --allow-empty-source', () => {
    const refused = decideExtras({ ...base, sourceObjects: 0, prefix: 'photos/' });
    expect(refused).toEqual({
      action: 'refuse',
      reason: expect.stringContaining(
        'the source listing of bucket "data" under "photos/" is empty while the backup "data-backup" holds 5 objects there',
      ) as string,
    });
    expect(refused.action === 'refuse' && refused.reason).toContain('pass --allow-empty-source');
    // --max-delete all does not lift this one: it is about the source, not the count.
    expect(decideExtras({ ...base, sourceObjects: 0, maxDelete: 'all' }).action).toBe('refuse');
    expect(decideExtras({ ...base, sourceObjects: 0, allowEmptySource: true })).toEqual({
      action: 'delete',
    });
  });

  it('refuses more extras than --max-delete, naming the count that would pass', () => {
    const refused = decideExtras({ ...base, extras: 1001 });
    expect(refused.action).toBe('refuse');
    expect(refused.action === 'refuse' && refused.reason).toContain(
      'refusing to delete 1001 extra backup objects of bucket "data": more than --max-delete 1000',
    );
    expect(refused.action === 'refuse' && refused.reason).toContain(
      'pass --max-delete 1001 (or all)',
    );
  });
});
