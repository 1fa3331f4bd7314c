import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { Command, Option } from 'commander';
import { backupBucket, backupKeyPrefix, createS3Client, sharedKeyPrefix } from '@s3relay/core/s3';
import { configFromFlags } from '../config-from-flags.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { duration } from '../flag-parsers.js';
import { table, type Output } from '../output.js';
import { s3Failure } from './s3-failure.js';

interface JanitorFlags {
  bucket?: string;
  olderThan: number;
  dryRun?: boolean;
}

interface OpenUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: string | undefined;
}

/** `s3relay janitor`: abort multipart uploads a killed worker left open on the backup. */
export function janitorCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return new Command('janitor')
    .description(
      'abort multipart uploads on the backup older than a threshold (left by killed workers)',
    )
    .option(
      '--bucket <bucket>',
      'source bucket whose backup to clean (needed when DEST_BUCKET has {bucket})',
    )
    .addOption(
      new Option('--older-than <duration>', 'only uploads started before this long ago')
        .argParser(duration)
        .default(24 * 3_600_000, '24h'),
    )
    .option('--dry-run', 'list what would be aborted')
    .action(async (flags: JanitorFlags) => {
      const out = output();
      const config = configFromFlags(env, {});
      if (flags.bucket === undefined && config.dest.bucket.includes('{bucket}')) {
        throw new CliError(
          ExitCode.usage,
          'DEST_BUCKET contains {bucket}: say which source bucket with --bucket',
        );
      }
      const bucket = backupBucket(config.dest, flags.bucket ?? '');
      // Without --bucket, every source bucket's uploads under a DEST_PREFIX={bucket}/.
      const prefix =
        flags.bucket === undefined
          ? sharedKeyPrefix(config.dest)
          : backupKeyPrefix(config.dest, flags.bucket);
      const client = createS3Client(config.dest);
      const cutoff = Date.now() - flags.olderThan;
      const aborted: OpenUpload[] = [];
      let seen = 0;
      try {
        let keyMarker: string | undefined;
        let uploadIdMarker: string | undefined;
        do {
          const page = await client.send(
            new ListMultipartUploadsCommand({
              Bucket: bucket,
              Prefix: prefix === '' ? undefined : prefix,
              KeyMarker: keyMarker,
              UploadIdMarker: uploadIdMarker,
            }),
          );
          for (const upload of page.Uploads ?? []) {
            seen += 1;
            if (upload.Key === undefined || upload.UploadId === undefined) continue;
            if (upload.Initiated !== undefined && upload.Initiated.getTime() > cutoff) continue;
            if (flags.dryRun !== true) {
              await client.send(
                new AbortMultipartUploadCommand({
                  Bucket: bucket,
                  Key: upload.Key,
                  UploadId: upload.UploadId,
                }),
              );
            }
            aborted.push({
              key: upload.Key,
              uploadId: upload.UploadId,
              initiated: upload.Initiated?.toISOString(),
            });
          }
          const more = page.IsTruncated === true;
          keyMarker = more ? page.NextKeyMarker : undefined;
          uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
        } while (keyMarker !== undefined);
      } catch (err) {
        throw s3Failure(err);
      } finally {
        client.destroy();
      }
      out.result({ bucket, open: seen, aborted, dryRun: flags.dryRun === true });
      const verb = flags.dryRun === true ? 'would abort' : 'aborted';
      out.line(`${bucket}: ${seen} open multipart uploads, ${verb} ${aborted.length}`);
      if (aborted.length > 0) {
        out.line(
          table(
            ['KEY', 'UPLOAD ID', 'INITIATED'],
            aborted.map((u) => [u.key, u.uploadId, u.initiated ?? '-']),
          ),
        );
      }
    });
}
