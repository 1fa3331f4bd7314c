import { once } from 'node:events';
import { Command, Option } from 'commander';
import type { Config } from '@s3relay/core';
import { redactUrls, topologyNames } from '@s3relay/core/amqp';
import { deleteLedgerName } from '@s3relay/worker';
import { withBroker } from '../broker-session.js';
import { configFromFlags } from '../config-from-flags.js';
import { cleanDev, recordDevQueues } from '../dev/clean-dev.js';
import { startDevStack, type DevStack } from '../dev/dev-stack.js';
import { loadEmulator } from '../dev/load-emulator.js';
import { positiveInt } from '../flag-parsers.js';
import { logColors } from '../log-colors.js';
import type { Output } from '../output.js';

interface DevFlags {
  amqpUrl?: string;
  amqpPrefix: string;
  sourceBucket: string;
  backupBucket: string;
  sourcePort: number;
  backupPort: number;
  ingressPort: number;
  metricsPort: number;
  consolePort: number;
  workers: number;
  dataDir: string;
  clean?: boolean;
}

/** Command lines with their `# comments` in one column, two spaces after the longest. */
function commented(lines: readonly (readonly [string, string?])[]): string {
  const width = Math.max(...lines.filter(([, c]) => c !== undefined).map(([cmd]) => cmd.length));
  return lines
    .map(([cmd, comment]) => (comment === undefined ? cmd : `${cmd.padEnd(width)}   # ${comment}`))
    .map((line) => `  ${line}`)
    .join('\n');
}

/** The "what to do next" text: every command in it works as printed. */
export function devInstructions(
  stack: DevStack,
  flags: DevFlags,
  amqpUrls: readonly string[],
): string {
  const src = stack.source.endpoint;
  const dst = stack.backup.endpoint;
  const { accessKeyId, secretAccessKey } = stack.source.credentials;
  return `
s3relay is running: emulated VK Cloud bucket → ingress → RabbitMQ → ${flags.workers} workers → local backup bucket

  console                     ${stack.consoleUrl}   queues, workers, lag, dead letters, resync

  source (VK Cloud emulator)  ${src}   bucket ${flags.sourceBucket}
  backup (local S3)           ${dst}   bucket ${flags.backupBucket}
  ingress                     ${stack.ingressUrl}   webhook registered (VK handshake passed): ${stack.webhookUrl}
  RabbitMQ                    ${redactUrls(amqpUrls)}   queues ${flags.amqpPrefix}.*

Try it in another terminal:

  export AWS_ACCESS_KEY_ID=${accessKeyId} AWS_SECRET_ACCESS_KEY=${secretAccessKey} AWS_DEFAULT_REGION=${stack.source.region}
  export AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
${commented([
  ['echo "hello from s3relay" > hello.txt'],
  [`aws --endpoint-url ${src} s3 cp hello.txt s3://${flags.sourceBucket}/hello.txt`],
  [`aws --endpoint-url ${dst} s3 ls s3://${flags.backupBucket}/`, 'hello.txt has arrived'],
  [`aws --endpoint-url ${src} s3 rm s3://${flags.sourceBucket}/hello.txt`],
  [`aws --endpoint-url ${dst} s3 ls s3://${flags.backupBucket}/`, 'and is gone again'],
])}

Watch it:

  health   ${stack.ingressUrl}/healthz   ${stack.ingressUrl}/readyz
  metrics  ${[stack.ingressMetricsUrl, ...stack.metricsUrls].map((url) => `${url}/metrics`).join('   ')}
  logs     below: one line per webhook (ingress) and per copy or delete (worker-N)

Operate it (the stack's settings are in ${stack.envFile}):

${commented([
  [`set -a; . ${stack.envFile}; set +a`],
  ['npx s3relay status', 'queue depths and consumers'],
  ['npx s3relay dlq list', 'parked tasks and why'],
  [`npx s3relay verify --bucket ${flags.sourceBucket}`, 'backup equals source?'],
])}

Objects are kept in ${flags.dataDir}. Ctrl-C stops everything; then \`npm start -- --clean\`
removes the objects and the ${flags.amqpPrefix}.* queues.
`;
}

/** `s3relay dev` (what `npm start` runs): the whole stack locally, ready to try. */
export function devCommand(output: () => Output, env: NodeJS.ProcessEnv): Command {
  return new Command('dev')
    .description(
      'run the whole stack locally: an emulated VK Cloud source, a local backup, the ingress and workers',
    )
    .addOption(new Option('--amqp-url <url>', 'RabbitMQ URL (AMQP_URL)'))
    .addOption(new Option('--amqp-prefix <prefix>', 'queue name prefix').default('s3relay-dev'))
    .addOption(new Option('--source-bucket <name>').default('myfiles-ash'))
    .addOption(new Option('--backup-bucket <name>').default('myfiles-backup'))
    .addOption(new Option('--source-port <port>').argParser(positiveInt).default(9000))
    .addOption(new Option('--backup-port <port>').argParser(positiveInt).default(9001))
    .addOption(new Option('--ingress-port <port>').argParser(positiveInt).default(8080))
    .addOption(
      new Option('--metrics-port <port>', "first metrics port: the workers', then the ingress's")
        .argParser(positiveInt)
        .default(9090),
    )
    .addOption(
      new Option('--console-port <port>', "the operator's console")
        .argParser(positiveInt)
        .default(9400),
    )
    .addOption(new Option('--workers <n>').argParser(positiveInt).default(2))
    .addOption(
      new Option('--data-dir <dir>', 'where the local buckets keep their objects').default(
        '.s3relay/dev',
      ),
    )
    .option(
      '--clean',
      'start nothing: remove what earlier runs left (the objects and settings in --data-dir, the ' +
        'queues of every run under --amqp-prefix, whatever its RETRY_DELAYS and DELETE_LIMIT, and ' +
        'the exchange); refused while the stack runs',
    )
    .action(async (flags: DevFlags) => {
      const out = output();
      if (flags.clean === true) {
        await clean(out, env, flags);
        return;
      }
      // First: without the emulator (a production install) nothing else is worth checking.
      const startEmulator = await loadEmulator();
      const config = configFromFlags(env, {
        AMQP_URL: flags.amqpUrl,
        AMQP_PREFIX: flags.amqpPrefix,
      });
      // Fails with instructions to start RabbitMQ when none answers; the services declare the
      // queues once started.
      await withBroker(config, () => Promise.resolve(), { timeoutMs: 3000, requireQueues: false });
      // Before the services declare them: a stack that fails half-way leaves them too.
      await recordDevQueues(flags.dataDir, devQueues(config));
      out.warn('starting the local stack…');
      const stack = await startDevStack({
        ...flags,
        startEmulator,
        amqpUrl: config.amqp.urls.join(','),
        write: (line) => out.stdout.write(`${line}\n`),
        colors: logColors(env, out.stdout as { isTTY?: boolean }),
      });
      out.stdout.write(devInstructions(stack, flags, config.amqp.urls));
      const stopped = Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
      const crashed = Promise.race(
        stack.services.map((service) => service.exited.then(() => service.name)),
      );
      const reason = await Promise.race([stopped.then(() => 'signal'), crashed]);
      if (reason !== 'signal') out.warn(`${reason} exited unexpectedly; stopping the stack`);
      out.warn('stopping…');
      await stack.close();
      out.warn('stopped');
    });
}

/**
 * The queues a dev stack with `config` uses: the topology's, and the delete ledger the workers
 * declare (the services get the same environment).
 */
function devQueues(config: Config): string[] {
  const names = topologyNames({
    prefix: config.amqp.prefix,
    retryDelaysMs: config.worker.retryDelaysMs,
  });
  return [
    names.tasks,
    ...names.retryTiers.map((tier) => tier.queue),
    names.dlq,
    names.held,
    deleteLedgerName(config.amqp.prefix, config.worker.deleteLimit),
  ];
}

/** `s3relay dev --clean`: removes the queues and files of earlier runs, says what went. */
async function clean(out: Output, env: NodeJS.ProcessEnv, flags: DevFlags): Promise<void> {
  const config = configFromFlags(env, { AMQP_URL: flags.amqpUrl, AMQP_PREFIX: flags.amqpPrefix });
  const report = await withBroker(
    config,
    ({ connection }) =>
      cleanDev(connection, {
        prefix: config.amqp.prefix,
        queues: devQueues(config),
        dataDir: flags.dataDir,
      }),
    { timeoutMs: 3000, requireQueues: false },
  );
  out.result(report);
  out.line(
    report.queues.length === 0
      ? `no queues under ${config.amqp.prefix}.`
      : `deleted ${report.queues.length} queues: ${report.queues.join(', ')}`,
  );
  if (report.exchanges.length > 0) out.line(`deleted the exchange ${report.exchanges.join(', ')}`);
  out.line(
    report.removedDir === undefined
      ? `nothing of s3relay dev in ${flags.dataDir}`
      : `removed ${report.removedDir}`,
  );
}
