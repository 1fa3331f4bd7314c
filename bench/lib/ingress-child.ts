import { AMQP_URL } from './broker.js';
import { profileFlags } from './cpu-profile.js';
import { CLI, freePort, spawnChild, type ChildProc } from './processes.js';

/** The ingress as production runs it (`s3relay ingress`), in a process of its own. */
export interface IngressChild {
  readonly child: ChildProc;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Where the emulator posts: `<url>/webhook/mcs`. */
  readonly webhookUrl: string;
  /** Its /metrics, on its own port (HTTP_METRICS_PORT). */
  readonly metricsUrl: string;
}

/**
 * Starts the built ingress for the queues under `prefix` on free loopback ports, with JSON logs
 * and the CPU profile's flags when profiling; `env` adds variables that may need its webhook
 * URL. It does not wait until the ingress is ready.
 */
export async function spawnIngress(
  prefix: string,
  logLevel: 'info' | 'warn',
  env: (webhookUrl: string) => Record<string, string> = () => ({}),
): Promise<IngressChild> {
  const port = await freePort();
  const metricsPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const webhookUrl = `${url}/webhook/mcs`;
  const child = spawnChild('ingress', process.execPath, [...profileFlags(), CLI, 'ingress'], {
    env: {
      AMQP_URL,
      AMQP_PREFIX: prefix,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      HTTP_METRICS_PORT: String(metricsPort),
      ...env(webhookUrl),
      LOG_LEVEL: logLevel,
      LOG_FORMAT: 'json',
    },
  });
  return { child, url, webhookUrl, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
}
