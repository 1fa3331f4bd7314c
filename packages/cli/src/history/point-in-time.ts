import type { BackupVersion } from './versions.js';

/**
 * Which backup version was current at a moment by the source's clock.
 *
 * An object version's source time is its provenance Last-Modified (the source's own clock, to
 * the second), read with a HEAD of that version. A delete marker carries nothing but the
 * backup's time of the delete, which is when s3relay replicated it: at most the replication lag
 * after the source's delete. So a key deleted less than that lag before the moment may still be
 * restored (never the other way round: nothing that existed is left out for this reason).
 *
 * Versions are read only where they can matter: every one the backup wrote after
 * `at - RACE_WINDOW_MS` (a version replicated after the moment may have been made on the source
 * before it, and a copy of an older state may have been written just after a newer one, before
 * the worker's recheck restored the newer), plus the newest one before that window, which is
 * the state of a key that did not change around the moment.
 */
export const RACE_WINDOW_MS = 5 * 60_000;

/** A version with the source time it stands for. */
export interface TimedVersion extends BackupVersion {
  /** Provenance Last-Modified for object versions; the backup's time for delete markers. */
  readonly sourceTime: Date;
}

/** The versions whose source time decides the state at `at`, newest first. */
export function versionsToInspect(
  versions: readonly BackupVersion[],
  at: Date,
): readonly BackupVersion[] {
  const windowStart = at.getTime() - RACE_WINDOW_MS;
  const recent = versions.filter((version) => version.backupTime.getTime() > windowStart);
  const baseline = versions.find((version) => version.backupTime.getTime() <= windowStart);
  return baseline === undefined ? recent : [...recent, baseline];
}

/**
 * The version current at `at`: of the versions made by then (source time ≤ `at`), the latest
 * made; of equals, the one the backup wrote last. Undefined when the key did not exist then,
 * and a delete marker when it had been deleted.
 */
export function versionAt<T extends TimedVersion>(versions: readonly T[], at: Date): T | undefined {
  let chosen: T | undefined;
  for (const version of versions) {
    if (version.sourceTime.getTime() > at.getTime()) continue;
    const later = chosen === undefined || version.sourceTime > chosen.sourceTime;
    const sameTimeWrittenLater =
      chosen !== undefined &&
      version.sourceTime.getTime() === chosen.sourceTime.getTime() &&
      version.backupTime > chosen.backupTime;
    if (later || sameTimeWrittenLater) chosen = version;
  }
  return chosen;
}
