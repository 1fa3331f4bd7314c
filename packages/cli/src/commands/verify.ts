import { Command, Option } from 'commander';
import { deletesReplicated } from '@s3relay/core';
import { configFromFlags } from '../config-from-flags.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { positiveInt } from '../flag-parsers.js';
import { table, type Output } from '../output.js';
import { createProgress } from '../progress.js';
import type { KeyComparison } from '../sync/compare.js';
import { healCommand } from '../sync/heal-command.js';
import { scanBucket } from '../sync/scan.js';
import { openSides } from '../sync/s3-sides.js';
import { s3Failure } from './s3-failure.js';

interface VerifyFlags {
  bucket: string;
  prefix?: string;
  deep?: boolean;
  tags: boolean;
  concurrency: number;
  limit: number;
}

/** `s3relay verify`: audit a backup against its source; exit 0 only when they are equal. */
export function verifyCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return new Command('verify')
    .description('compare source and backup; exit 0 only when every key is equal')
    .requiredOption('--bucket <bucket>', 'source bucket')
    .option('--prefix <prefix>', 'only keys under this prefix')
    .option(
      '--deep',
      'stream both sides and compare SHA-256 instead of provenance metadata and size',
    )
    .option(
      '--no-tags',
      'do not compare object tags (two GetObjectTagging per key; for stores without tagging)',
    )
    .addOption(
      new Option('--concurrency <n>', 'keys compared at once').argParser(positiveInt).default(16),
    )
    .addOption(
      new Option('--limit <n>', 'list at most n differing keys')
        .argParser(positiveInt)
        .default(1000),
    )
    .action(async (flags: VerifyFlags) => {
      const out = output();
      const config = configFromFlags(env, {});
      const sides = openSides(config, flags.bucket, flags.concurrency);
      const differences: KeyComparison[] = [];
      // Over every key, not only the listed ones: they decide which resync heals.
      let contentDiffers = false;
      let tagsDiffer = false;
      const progress = createProgress(out, flags.deep === true ? 'verify (deep)' : 'verify');
      try {
        const counts = await scanBucket(sides, {
          prefix: flags.prefix ?? '',
          deep: flags.deep === true,
          tags: flags.tags,
          concurrency: flags.concurrency,
          onProgress: (c) => progress.update(c),
          onKey: (comparison) => {
            contentDiffers ||= comparison.reason === 'content';
            tagsDiffer ||= comparison.reason === 'tags';
            if (comparison.status !== 'equal' && differences.length < flags.limit) {
              differences.push(comparison);
            }
            return Promise.resolve();
          },
        });
        progress.done(counts);
        const inSync = counts.missing + counts.different + counts.extra === 0;
        const heal = inSync
          ? undefined
          : healCommand({
              ...counts,
              bucket: flags.bucket,
              prefix: flags.prefix ?? '',
              contentDiffers,
              tagsDiffer,
              deletesOn: deletesReplicated(config.worker),
            });
        out.result({
          bucket: flags.bucket,
          backupBucket: sides.backupBucket,
          deep: flags.deep === true,
          inSync,
          ...counts,
          differences,
          heal,
        });
        out.line(
          table(
            ['COMPARED', 'EQUAL', 'MISSING', 'DIFFERENT', 'EXTRA'],
            [
              [counts.compared, counts.equal, counts.missing, counts.different, counts.extra].map(
                String,
              ),
            ],
          ),
        );
        if (differences.length > 0) {
          out.line();
          out.line(
            table(
              ['STATUS', 'REASON', 'KEY'],
              differences.map((d) => [d.status, d.reason ?? '', d.key]),
            ),
          );
        }
        if (heal !== undefined) {
          const extrasStay =
            counts.extra > 0 && !deletesReplicated(config.worker)
              ? '; the extras stay, deletes are off'
              : '';
          throw new CliError(
            ExitCode.problemsFound,
            `backup differs from source: ${counts.missing} missing, ${counts.different} different, ` +
              `${counts.extra} extra (heal with \`${heal}\`${extrasStay})`,
          );
        }
        out.line('backup equals source');
      } catch (err) {
        throw s3Failure(err);
      } finally {
        sides.close();
      }
    });
}
