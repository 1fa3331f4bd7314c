import autocannon from 'autocannon';
import { AMQP_URL, benchPrefix, deleteQueues } from './lib/broker.js';
import { profileFlags } from './lib/cpu-profile.js';
import { spawnIngress } from './lib/ingress-child.js';
import { firstLine, runBenchScript, spawnBenchScript } from './lib/node-child.js';
import { CpuMeter, freePort, rabbitPid, waitHttpOk } from './lib/processes.js';
import { delta, histogramQuantile, scrape, sumOf, type Sample } from './lib/prometheus.js';
import { infoRow, row, type BenchOutcome, type Benchmark } from './lib/report.js';
import { ratio, round, type Distribution } from './lib/stats.js';

const CONNECTIONS = 64;
const WARMUP_SECONDS = 1;
const DURATION_SECONDS = 5;
/** Each side is measured this many times, interleaved; the best of each is compared. */
const ROUNDS = 2;

/** A VK Cloud event of one record, as the emulator (and VK) sends it. */
const VK_BODY = JSON.stringify({
  Records: [
    {
      s3: {
        object: {
          eTag: 'aed563ecafb4bcc5654c597a421547b2',
          sequencer: 1577453615,
          key: 'photos/2026/11/29/bench-object.jpg',
          size: 1024,
        },
        configurationId: '1',
        bucket: { name: 'source', ownerIdentity: { principalId: 'mcs2883541269' } },
        s3SchemaVersion: '1.0',
      },
      eventVersion: '1.0',
      requestParameters: { sourceIPAddress: '185.6.245.156' },
      userIdentity: { principalId: '2407013e-cbc1-415f-9102-16fb9bd6946b' },
      eventName: 's3:ObjectCreated:Put',
      awsRegion: 'ru-msk',
      eventSource: 'aws:s3',
      responseElements: { 'x-amz-request-id': 'VGJR5rtJ' },
    },
  ],
});

/** A task as the ingress publishes it for {@link VK_BODY}: the raw loop's message. */
const TASK_BODY = JSON.stringify({
  v: 1,
  id: 'f'.repeat(64),
  origin: 'mcs',
  kind: 'created',
  eventName: 'ObjectCreated:Put',
  bucket: 'source',
  key: 'photos/2026/11/29/bench-object.jpg',
  size: 1024,
  eTag: 'aed563ecafb4bcc5654c597a421547b2',
  versionId: null,
  sequencer: '1577453615',
  eventTime: null,
  receivedAt: new Date().toISOString(),
});

interface HttpRun {
  readonly requestsPerSecond: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  /** CPU seconds per process over the measured window. */
  readonly cpuSeconds: Record<string, number>;
  /** The window's wall time (autocannon's duration plus its connection setup and teardown). */
  readonly windowSeconds: number;
}

/** Warms `target` up, then loads it for the measured window. */
async function load(target: Target): Promise<HttpRun> {
  const options = {
    url: target.url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: VK_BODY,
    connections: CONNECTIONS,
    timeout: 10,
  };
  await autocannon({ ...options, duration: WARMUP_SECONDS });
  await target.beforeWindow?.();
  target.cpu.start();
  const windowStarted = performance.now();
  const result = await autocannon({ ...options, duration: DURATION_SECONDS });
  const cpuSeconds = target.cpu.stop();
  const windowSeconds = (performance.now() - windowStarted) / 1000;
  return {
    requestsPerSecond: result.requests.average,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.mean,
    },
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    cpuSeconds,
    windowSeconds,
  };
}

/** A server under load: where to POST, and what to measure around each window. */
interface Target {
  readonly url: string;
  readonly cpu: CpuMeter;
  readonly beforeWindow?: () => Promise<void>;
  readonly afterWindow?: () => Promise<void>;
  close(): Promise<void>;
}

/**
 * The hand-written ceiling (bench/lib/handwritten-endpoint.ts): Express and amqplib's confirm
 * channel doing only what the job needs, publishing to a quorum queue of its own prefix.
 */
async function startHandwritten(rabbit: number | undefined): Promise<Target> {
  const prefix = benchPrefix('handwritten');
  const port = await freePort();
  const lines: string[] = [];
  const child = spawnBenchScript(
    'handwritten-endpoint',
    'handwritten-endpoint.ts',
    [JSON.stringify({ port, url: AMQP_URL, prefix })],
    { onLine: (line) => lines.push(line), nodeFlags: profileFlags() },
  );
  const close = async () => {
    await child.stop();
    await deleteQueues(prefix);
  };
  try {
    await firstLine(child, lines, (line) => line === 'listening');
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}/webhook/mcs`,
    cpu: new CpuMeter({ server: child.pid, rabbitmq: rabbit ?? [], loadGenerator: process.pid }),
    close,
  };
}

async function startBareExpress(rabbit: number | undefined): Promise<Target> {
  const port = await freePort();
  const lines: string[] = [];
  const child = spawnBenchScript('bare-express', 'bare-express.ts', [String(port)], {
    onLine: (line) => lines.push(line),
    nodeFlags: profileFlags(),
  });
  try {
    await firstLine(child, lines, (line) => line === 'listening');
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}/webhook/mcs`,
    cpu: new CpuMeter({ server: child.pid, rabbitmq: rabbit ?? [], loadGenerator: process.pid }),
    close: () => child.stop(),
  };
}

/**
 * The ingress as production runs it (`s3relay ingress`), with a fresh AMQP prefix; `windows`
 * collects a metrics scrape before each measured window (the caller adds the one after).
 */
async function startIngress(
  rabbit: number | undefined,
  windows: { before: Sample[]; after: Sample[] }[],
  logLevel: 'info' | 'warn',
): Promise<Target> {
  const prefix = benchPrefix('ingress');
  const {
    child,
    webhookUrl,
    metricsUrl: metrics,
    url: base,
  } = await spawnIngress(prefix, logLevel);
  const close = async () => {
    await child.stop();
    await deleteQueues(prefix);
  };
  const afterWindow = async () => {
    const window = windows.at(-1);
    if (window !== undefined && window.after.length === 0) window.after = await scrape(metrics);
  };
  try {
    await waitHttpOk(`${base}/readyz`, child);
  } catch (err) {
    await close();
    throw err;
  }
  return {
    url: webhookUrl,
    cpu: new CpuMeter({ server: child.pid, rabbitmq: rabbit ?? [], loadGenerator: process.pid }),
    // Also resets the event-loop delay histogram, so that a window's figures are its own.
    beforeWindow: async () => {
      windows.push({ before: await scrape(metrics), after: [] });
    },
    afterWindow,
    close: async () => {
      await afterWindow();
      await close();
    },
  };
}

interface LoopResult {
  readonly count: number;
  readonly elapsedMs: number;
  readonly latencyMs: Distribution;
  readonly cpuSeconds: number;
}

async function publishLoop(rabbit: number | undefined) {
  const prefix = benchPrefix('amqp-loop');
  const cpu = new CpuMeter({ rabbitmq: rabbit ?? [] });
  try {
    cpu.start();
    const result = await runBenchScript<LoopResult>('amqp-publish-loop', 'amqp-publish-loop.ts', [
      JSON.stringify({
        url: AMQP_URL,
        prefix,
        connections: CONNECTIONS,
        durationMs: DURATION_SECONDS * 1000,
        warmupMs: WARMUP_SECONDS * 1000,
        body: TASK_BODY,
      }),
    ]);
    // The broker was idle while the child started, so its CPU over the whole child's life is the
    // loop's (warm-up included: scaled to the measured window).
    const scale = DURATION_SECONDS / (DURATION_SECONDS + WARMUP_SECONDS);
    const used = cpu.stop();
    const rabbitSeconds = (used.rabbitmq ?? 0) * scale;
    return {
      ...result,
      perSecond: result.count / (result.elapsedMs / 1000),
      rabbitSeconds,
    };
  } finally {
    await deleteQueues(prefix);
  }
}

const ms = (seconds: number) => `${round(seconds * 1000, 2)} ms`;
const perRequest = (seconds: number | undefined, requests: number) =>
  `${round(((seconds ?? 0) * 1000) / Math.max(1, requests), 3)} ms`;
const perWebhookMs = (seconds: number | undefined, requests: number) =>
  round(((seconds ?? 0) * 1000) / Math.max(1, requests), 3);
/** A window's CPU per request of each measured process, in ms. */
const cpuPerWebhook = ({ cpuSeconds: cpu, requests }: HttpRun) =>
  [cpu.server, cpu.rabbitmq, cpu.loadGenerator]
    .map((seconds) => perWebhookMs(seconds, requests))
    .join(' / ');

export const ingressBenchmark: Benchmark = {
  name: 'ingress',
  title: `webhooks per second and latency at ${CONNECTIONS} connections (best of ${ROUNDS} interleaved rounds), single-record VK bodies, confirmed publishing`,
  async run({ log, machine }): Promise<BenchOutcome> {
    const rabbit = await rabbitPid();
    const windows: { before: Sample[]; after: Sample[] }[] = [];
    const targets: Target[] = [];
    const closeAll = () => Promise.all(targets.map((target) => target.close()));
    const open = async (start: () => Promise<Target>) => {
      try {
        const target = await start();
        targets.push(target);
        return target;
      } catch (err) {
        await closeAll();
        throw err;
      }
    };
    const expressTarget = await open(() => startBareExpress(rabbit));
    const handwrittenTarget = await open(() => startHandwritten(rabbit));
    const ingressTarget = await open(() => startIngress(rabbit, windows, 'info'));
    // The same ingress logging warnings only: how much of its cost is the line per webhook.
    const quietTarget = await open(() => startIngress(rabbit, [], 'warn'));
    const quietRuns: HttpRun[] = [];
    const expressRuns: HttpRun[] = [];
    const handwrittenRuns: HttpRun[] = [];
    const ingressRuns: HttpRun[] = [];
    const loopRuns: Awaited<ReturnType<typeof publishLoop>>[] = [];
    try {
      // Rounds interleave the sides so that a burst of someone else's load hits all of them.
      for (let round = 1; round <= ROUNDS; round += 1) {
        const step = `round ${round}/${ROUNDS}`;
        log(`${step}: bare Express, ${CONNECTIONS} connections, ${DURATION_SECONDS} s`);
        expressRuns.push(await load(expressTarget));
        log(`${step}: s3relay ingress, ${CONNECTIONS} connections, ${DURATION_SECONDS} s`);
        ingressRuns.push(await load(ingressTarget));
        await ingressTarget.afterWindow?.();
        log(`${step}: hand-written Express + amqplib confirm endpoint, ${CONNECTIONS} connections`);
        handwrittenRuns.push(await load(handwrittenTarget));
        log(`${step}: raw amqplib confirmed-publish loop, ${CONNECTIONS} in flight`);
        loopRuns.push(await publishLoop(rabbit));
        log(`${step}: s3relay ingress with LOG_LEVEL=warn (diagnostic)`);
        quietRuns.push(await load(quietTarget));
      }
    } finally {
      await closeAll();
    }
    const quiet = quietRuns.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
    const best = <T>(runs: readonly T[], rate: (run: T) => number): T =>
      runs.reduce((a, b) => (rate(b) > rate(a) ? b : a));
    const express = best(expressRuns, (run) => run.requestsPerSecond);
    const handwritten = best(handwrittenRuns, (run) => run.requestsPerSecond);
    const relay = best(ingressRuns, (run) => run.requestsPerSecond);
    const loop = best(loopRuns, (run) => run.perSecond);
    const bestWindow = windows[ingressRuns.indexOf(relay)];
    const metrics = bestWindow === undefined ? [] : delta(bestWindow.after, bestWindow.before);
    const vsExpress = ratio(relay.requestsPerSecond, express.requestsPerSecond);
    const vsHandwritten = ratio(relay.requestsPerSecond, handwritten.requestsPerSecond);
    const vsLoop = ratio(relay.requestsPerSecond, loop.perSecond);
    const failures = relay.non2xx + relay.errors + relay.timeouts;
    const publishCount = sumOf(metrics, 's3relay_ingress_publish_seconds_count');
    const publishMean =
      sumOf(metrics, 's3relay_ingress_publish_seconds_sum') / Math.max(1, publishCount);
    const publishP50 = histogramQuantile(metrics, 's3relay_ingress_publish_seconds', 0.5);
    const publishP99 = histogramQuantile(metrics, 's3relay_ingress_publish_seconds', 0.99);
    const lagP99 = sumOf(metrics, 'nodejs_eventloop_lag_p99_seconds');
    const lagMax = sumOf(metrics, 'nodejs_eventloop_lag_max_seconds');
    const busy = ({ cpuSeconds: cpu, windowSeconds }: HttpRun) => {
      const capacity = machine.cores * windowSeconds;
      const measured = Object.entries(cpu)
        .filter(([name]) => name !== 'machine')
        .reduce((total, [, seconds]) => total + seconds, 0);
      const others = Math.max(0, (cpu.machine ?? 0) - measured);
      return `${round((100 * measured) / capacity)} % (+ ${round((100 * others) / capacity)} % other processes)`;
    };
    const latency = (run: HttpRun) => `${run.latencyMs.p50} / ${run.latencyMs.p99} ms`;
    return {
      settings: {
        connections: CONNECTIONS,
        warmupSeconds: WARMUP_SECONDS,
        durationSeconds: DURATION_SECONDS,
        body: 'one VK record (ObjectCreated:Put), POST /webhook/mcs',
        ingress: { LOG_LEVEL: 'info', LOG_FORMAT: 'json', queue: 'quorum, persistent, confirms' },
        loadGenerator: 'autocannon 8 in the bench process',
      },
      measurements: {
        ingress: relay,
        bareExpress: express,
        handwritten,
        publishLoop: loop,
        ingressLogLevelWarn: quiet,
        rounds: {
          ingress: ingressRuns,
          bareExpress: expressRuns,
          handwritten: handwrittenRuns,
          publishLoop: loopRuns,
          ingressLogLevelWarn: quietRuns,
        },
        ingressPublishSeconds: {
          count: publishCount,
          mean: publishMean,
          p50: publishP50,
          p99: publishP99,
        },
        ingressEventLoopLagSeconds: { p99: lagP99, max: lagMax },
      },
      rows: [
        row(
          {
            measure: `webhooks/s at ${CONNECTIONS} connections ÷ hand-written Express + amqplib confirm endpoint`,
            value: `${Math.round(relay.requestsPerSecond)}/s`,
            ceiling: `${Math.round(handwritten.requestsPerSecond)}/s`,
            ratio: `${round(vsHandwritten, 2)}×`,
            target: '≥ 1.0×',
          },
          vsHandwritten >= 1.0,
        ),
        row(
          {
            measure: 'webhooks/s ÷ bare Express (parses, publishes nothing)',
            value: `${Math.round(relay.requestsPerSecond)}/s`,
            ceiling: `${Math.round(express.requestsPerSecond)}/s`,
            ratio: `${round(vsExpress, 2)}×`,
            target: '≥ 0.7×',
          },
          vsExpress >= 0.7,
        ),
        infoRow({
          measure: 'CPU per webhook (ms): the server, RabbitMQ, the load generator',
          value: cpuPerWebhook(relay),
          ceiling: `${cpuPerWebhook(handwritten)} (hand-written); ${cpuPerWebhook(express)} (bare Express)`,
          ratio: `${round(ratio(perWebhookMs(relay.cpuSeconds.server, relay.requests), perWebhookMs(handwritten.cpuSeconds.server, handwritten.requests)), 2)}×`,
        }),
        infoRow({
          measure: `webhooks/s ÷ raw confirmed-publish loop (${CONNECTIONS} in flight)`,
          value: `${Math.round(relay.requestsPerSecond)}/s`,
          ceiling: `${Math.round(loop.perSecond)}/s`,
          ratio: `${round(vsLoop, 2)}×`,
        }),
        infoRow({
          measure: 'diagnostic: the ingress with LOG_LEVEL=warn ÷ bare Express',
          value: `${Math.round(quiet.requestsPerSecond)}/s, p99 ${quiet.latencyMs.p99} ms`,
          ceiling: `${Math.round(express.requestsPerSecond)}/s`,
          ratio: `${round(ratio(quiet.requestsPerSecond, express.requestsPerSecond), 2)}×`,
        }),
        row(
          {
            measure: 'latency p50 / p99',
            value: latency(relay),
            ceiling: `${latency(express)} (Express); ${round(loop.latencyMs.p50, 1)} / ${round(loop.latencyMs.p99, 1)} ms (loop)`,
            ratio: '',
            target: 'p99 < 50 ms',
          },
          relay.latencyMs.p99 < 50,
        ),
        row(
          {
            measure: 'non-2xx, errors, timeouts',
            value: `${relay.non2xx}, ${relay.errors}, ${relay.timeouts} of ${relay.requests}`,
            ceiling: '',
            ratio: '',
            target: '0',
          },
          failures === 0,
        ),
      ],
      diagnosis: [
        `Time in the broker: the ingress's publish-to-confirm took ${ms(publishMean)} on average ` +
          `(p50 ≈ ${ms(publishP50)}, p99 ≈ ${ms(publishP99)} from the histogram) of a webhook's ` +
          `${relay.latencyMs.mean.toFixed(1)} ms mean; the raw loop's confirms took ` +
          `${round(loop.latencyMs.mean, 2)} ms on average (p99 ${round(loop.latencyMs.p99, 2)} ms).`,
        `CPU per webhook: ingress ${perRequest(relay.cpuSeconds.server, relay.requests)} ` +
          `(${perRequest(quiet.cpuSeconds.server, quiet.requests)} with LOG_LEVEL=warn), RabbitMQ ` +
          `${perRequest(relay.cpuSeconds.rabbitmq, relay.requests)}, load generator ` +
          `${perRequest(relay.cpuSeconds.loadGenerator, relay.requests)}; hand-written endpoint ` +
          `${perRequest(handwritten.cpuSeconds.server, handwritten.requests)} + RabbitMQ ` +
          `${perRequest(handwritten.cpuSeconds.rabbitmq, handwritten.requests)}; bare Express ` +
          `${perRequest(express.cpuSeconds.server, express.requests)} per request; raw loop ` +
          `${perRequest(loop.cpuSeconds, loop.count)} client + ${perRequest(loop.rabbitSeconds, loop.count)} ` +
          'RabbitMQ per message.',
        `Machine busy (CPU ÷ ${machine.cores} cores): ingress window ${busy(relay)}, ` +
          `hand-written window ${busy(handwritten)}, bare Express window ${busy(express)}, raw loop window (the loop and RabbitMQ) ` +
          `${round((100 * (loop.cpuSeconds + loop.rabbitSeconds)) / (machine.cores * (loop.elapsedMs / 1000)))} %.`,
        `Ingress event-loop delay (monitorEventLoopDelay, 10 ms resolution included): p99 ${ms(lagP99)}, max ${ms(lagMax)}.`,
      ],
      notes: [
        'The load generator runs in the bench process and shares the cores with the server under test, equally for the ingress and both Express ceilings.',
        'The hand-written endpoint (bench/lib/handwritten-endpoint.ts) parses the JSON body, publishes one persistent mandatory task per record on one confirm channel, awaits the confirms and answers; it validates nothing, keeps no metrics and logs nothing.',
        `The raw loop's latency percentiles over ${loop.count} confirms: ${JSON.stringify(
          Object.fromEntries(
            Object.entries(loop.latencyMs).map(([key, value]: [string, number]) => [
              key,
              round(value, 2),
            ]),
          ),
        )} ms.`,
      ],
    };
  },
};
