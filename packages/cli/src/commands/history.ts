import { Command } from 'commander';
import { backupBucket, backupKey, createS3Client } from '@s3relay/core/s3';
import { configFromFlags } from '../config-from-flags.js';
import { assertReplicated } from '../sync/s3-sides.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { detailVersion } from '../history/version-details.js';
import { requireHistory } from '../history/versioning.js';
import { listKeyHistories } from '../history/versions.js';
import { table, type Output } from '../output.js';
import { s3Failure } from './s3-failure.js';

interface HistoryFlags {
  bucket: string;
  key: string;
}

/** `s3relay history`: one key's versions in the backup, with the source's time of each. */
export function historyCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return new Command('history')
    .description("list one key's versions in the backup with their source times (newest first)")
    .requiredOption('--bucket <bucket>', 'source bucket')
    .requiredOption('--key <key>', 'source key')
    .action(async (flags: HistoryFlags) => {
      const out = output();
      const config = configFromFlags(env, {});
      assertReplicated(config, flags.bucket);
      const client = createS3Client(config.dest);
      const bucket = backupBucket(config.dest, flags.bucket);
      const root = backupKey(config.dest, flags.bucket, '');
      try {
        await requireHistory(client, bucket, (text) => out.warn(text));
        let versions: Awaited<ReturnType<typeof detailVersion>>[] = [];
        for await (const history of listKeyHistories(client, bucket, root + flags.key, root)) {
          if (history.key !== flags.key) continue;
          versions = await Promise.all(
            history.versions.map((version) =>
              detailVersion(client, bucket, root + flags.key, version),
            ),
          );
        }
        out.result({ bucket: flags.bucket, key: flags.key, backupBucket: bucket, versions });
        if (versions.length === 0) {
          throw new CliError(
            ExitCode.problemsFound,
            `the backup ${bucket} has no version of ${JSON.stringify(flags.key)}`,
          );
        }
        out.line(
          table(
            ['SOURCE TIME', 'BACKUP TIME', 'WHAT', 'SIZE', 'SOURCE ETAG', 'VERSION ID'],
            versions.map((v) => [
              v.deleteMarker ? `(${v.sourceTime.toISOString()})` : v.sourceTime.toISOString(),
              v.backupTime.toISOString(),
              v.deleteMarker ? 'deleted' : `${v.isLatest ? 'current' : 'version'}`,
              v.deleteMarker ? '' : String(v.size),
              v.sourceETag ?? '',
              v.versionId,
            ]),
          ),
        );
        out.line(
          "source times are the source's Last-Modified (to the second); a delete's is when the " +
            'backup recorded it (in brackets)',
        );
      } catch (err) {
        throw s3Failure(err);
      } finally {
        client.destroy();
      }
    });
}
