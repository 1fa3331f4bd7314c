import { describe, expect, it } from 'vitest';
import {
  RACE_WINDOW_MS,
  versionAt,
  versionsToInspect,
  type TimedVersion,
} from './point-in-time.js';

const t = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, 0) + seconds * 1000);

function version(
  id: string,
  backupSeconds: number,
  sourceSeconds: number,
  deleteMarker = false,
): TimedVersion {
  return {
    versionId: id,
    deleteMarker,
    backupTime: t(backupSeconds),
    sourceTime: t(sourceSeconds),
    size: deleteMarker ? 0 : 1,
    eTag: deleteMarker ? '' : id,
    isLatest: false,
  };
}

describe('versionAt', () => {
  // Newest first by the backup's clock, as the backup lists them.
  const history = [
    version('marker', 300, 300, true),
    version('v3', 200, 190),
    version('v2', 100, 95),
    version('v1', 10, 5),
  ];

  it('picks the version the source held at the moment, by its own clock', () => {
    expect(versionAt(history, t(4))).toBeUndefined();
    expect(versionAt(history, t(5))?.versionId).toBe('v1');
    expect(versionAt(history, t(94))?.versionId).toBe('v1');
    expect(versionAt(history, t(95))?.versionId).toBe('v2');
    // Replicated at 200 but made at 190: current from 190 on, whatever the backup's clock says.
    expect(versionAt(history, t(195))?.versionId).toBe('v3');
    expect(versionAt(history, t(300))?.deleteMarker).toBe(true);
  });

  it('prefers the newer source state when an older copy was written after it', () => {
    // A slow copy of v1 finished after the copy of v2; the worker's recheck then wrote v2 again.
    const raced = [version('v2-again', 12, 8), version('v1-late', 11, 5), version('v2', 10, 8)];
    expect(versionAt(raced, t(11))?.versionId).toBe('v2-again');
    expect(versionAt(raced, t(9))?.sourceTime).toEqual(t(8));
  });
});

describe('versionsToInspect', () => {
  it('reads the versions near and after the moment, and the newest one before them', () => {
    const at = t(10_000);
    const windowStart = (10_000 * 1000 - RACE_WINDOW_MS) / 1000;
    const history = [
      version('after', 10_100, 0),
      version('in-window', windowStart + 1, 0),
      version('baseline', windowStart - 1, 0),
      version('older', 100, 0),
    ];
    expect(versionsToInspect(history, at).map((v) => v.versionId)).toEqual([
      'after',
      'in-window',
      'baseline',
    ]);
  });
});
