import { Command, Option } from 'commander';
import type { Config } from '@s3relay/core';
import { backupBucket, backupKey, createS3Client } from '@s3relay/core/s3';
import { withBroker } from '../broker-session.js';
import { addBrokerOptions, brokerOverrides, type BrokerFlags } from '../common-options.js';
import { configFromFlags } from '../config-from-flags.js';
import { assertReplicated } from '../sync/s3-sides.js';
import { checkBackup, checkNotifications, checkSource } from '../doctor/access-checks.js';
import { ok, problem, warning, type Finding } from '../doctor/finding.js';
import { checkLifecycle, checkVersioning } from '../doctor/history-checks.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { duration } from '../flag-parsers.js';
import { table, type Output } from '../output.js';

interface DoctorFlags extends BrokerFlags {
  bucket: string;
  retention: number;
  fix?: boolean;
}

const DAY_MS = 86_400_000;

/**
 * `s3relay doctor`: checks what a deployment needs, prints each problem with its fix, and with
 * `--fix` turns on the backup's versioning and a lifecycle rule for its old versions.
 */
export function doctorCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return addBrokerOptions(
    new Command('doctor')
      .description(
        'check the broker, the source and the backup (access, versioning, lifecycle, notifications); --fix repairs the backup',
      )
      .requiredOption('--bucket <bucket>', 'source bucket to check (and its backup)')
      .addOption(
        new Option('--retention <duration>', 'how long old versions are kept (whole days)')
          .argParser(duration)
          .default(30 * DAY_MS, '30d'),
      )
      .option('--fix', "turn on the backup's versioning and add the lifecycle rule"),
  ).action(async (flags: DoctorFlags) => {
    const out = output();
    const config = configFromFlags(env, brokerOverrides(flags));
    assertReplicated(config, flags.bucket);
    const retentionDays = Math.max(1, Math.round(flags.retention / DAY_MS));
    const source = createS3Client(config.source);
    const backup = createS3Client(config.dest);
    const bucket = backupBucket(config.dest, flags.bucket);
    const findings: Finding[] = [];
    try {
      findings.push(await checkBroker(config));
      findings.push(await checkSource(source, flags.bucket));
      findings.push(await checkNotifications(source, flags.bucket));
      const reachable = await checkBackup(backup, bucket);
      findings.push(reachable);
      if (reachable.status === 'ok') {
        const target = {
          client: backup,
          bucket,
          prefix: backupKey(config.dest, flags.bucket, ''),
          retentionDays,
          fix: flags.fix === true,
        };
        const checks = [
          ['backup keeps history (versioning)', checkVersioning],
          ['old versions expire (lifecycle)', checkLifecycle],
        ] as const;
        for (const [name, check] of checks) {
          findings.push(await check(target).catch((err: unknown) => failed(name, err)));
        }
      }
    } finally {
      source.destroy();
      backup.destroy();
    }
    const problems = findings.filter((finding) => finding.status === 'problem');
    out.result({
      bucket: flags.bucket,
      backupBucket: bucket,
      healthy: problems.length === 0,
      findings,
    });
    out.line(
      table(
        ['CHECK', 'STATUS', 'DETAIL', 'FIX'],
        findings.map((f) => [f.check, f.status, f.detail, f.fix]),
      ),
    );
    if (problems.length > 0) {
      throw new CliError(
        ExitCode.problemsFound,
        `${problems.length} problem(s): ${problems.map((p) => p.check).join(', ')}`,
      );
    }
    out.line('no problem found');
  });
}

/** The broker answers, the queues are declared, a worker consumes, nothing is parked. */
async function checkBroker(config: Config): Promise<Finding> {
  const check = 'broker and queues';
  try {
    return await withBroker(config, async ({ broker, connection }) => {
      const channel = await connection.createChannel();
      try {
        const tasks = await channel.checkQueue(broker.names.tasks);
        const dlq = await channel.checkQueue(broker.names.dlq);
        if (tasks.consumerCount === 0) {
          return warning(
            check,
            `${broker.names.tasks}: ${tasks.messageCount} waiting, no worker consuming`,
            'start a worker (s3relay worker)',
          );
        }
        if (dlq.messageCount > 0) {
          return warning(
            check,
            `${dlq.messageCount} tasks parked in ${broker.names.dlq}`,
            'see s3relay dlq list, fix the cause, s3relay dlq replay',
          );
        }
        return ok(
          check,
          `${broker.names.tasks}: ${tasks.messageCount} waiting, ${tasks.consumerCount} consumer(s)`,
        );
      } finally {
        await channel.close().catch(() => undefined);
      }
    });
  } catch (err) {
    return problem(
      check,
      err instanceof Error ? err.message : String(err),
      'start RabbitMQ or set AMQP_URL',
    );
  }
}

function failed(check: string, err: unknown): Finding {
  return problem(check, err instanceof Error ? err.message : String(err), 'see the detail');
}
