import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '@s3relay/emulator';
import {
  deleteQueuesWithPrefix,
  eventually,
  freePort,
  queueDepth,
  rabbitUrl,
  uniquePrefix,
} from '../helpers/index.js';
import {
  selfSignedCertificate,
  startTlsProxy,
  type TestCertificate,
  type TlsProxy,
} from '../helpers/tls-proxy.js';
import {
  DEPLOY,
  containerEnv,
  render,
  workloadIn,
  type Manifest,
  type Secret,
} from '../support/deploy-manifests.js';
import { spawnCli, type CliProcess } from './cli-process.js';

// The Kubernetes example as shipped (deploy/overlays/example, rendered as kustomize would), its
// ingress run as a real `s3relay ingress` process behind what the cluster's ingress controller
// is: a TLS-terminating proxy that forwards plain HTTP with X-Forwarded-Proto/-Host. The
// emulator registers the example's PUBLIC_URLS the way VK does, so it performs VK's handshake
// check over the URL as registered, then delivers an event through the same path.

const TOKEN = 'example-webhook-token-0123456789abcdef';
const OVERLAY = `${DEPLOY}/overlays/example`;

/** The example's ingress variables, with the Secret filled in as an operator would. */
function exampleIngressEnv(overrides: Record<string, string>): Record<string, string> {
  const objects = render(OVERLAY).map((m): Manifest => {
    if (m.kind !== 'Secret') return m;
    const secret = m as Secret;
    const filled: Secret = {
      ...secret,
      stringData: { ...secret.stringData, WEBHOOK_TOKEN: TOKEN, AMQP_URL: rabbitUrl() },
    };
    return filled;
  });
  return { ...containerEnv(workloadIn(objects, 'ingress').container, objects), ...overrides };
}

describe('the Kubernetes example behind a TLS-terminating ingress controller', () => {
  const prefix = uniquePrefix('k8s-example');
  const example = exampleIngressEnv({});
  const publicUrl = new URL(example.PUBLIC_URLS ?? '');
  const bucket = example.SOURCE_BUCKETS?.split(',')[0] ?? '';
  let certificate: TestCertificate;
  let emulator: Emulator;
  const started: { close(): Promise<unknown> }[] = [];

  /** The example's ingress process on a free port, with `overrides`, behind a new TLS proxy. */
  async function ingressBehindProxy(overrides: Record<string, string>): Promise<CliProcess> {
    const port = await freePort();
    const ingress = spawnCli(['ingress'], {
      PATH: process.env.PATH,
      ...exampleIngressEnv({
        // The container listens on every interface; a test listens on loopback only.
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(port),
        HTTP_METRICS_PORT: '0',
        AMQP_PREFIX: prefix,
        ...overrides,
      }),
    });
    started.push({ close: () => ingress.stop() });
    await eventually(
      async () => {
        expect(ingress.child.exitCode, ingress.output()).toBeNull();
        expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const proxy: TlsProxy = await startTlsProxy(certificate, { host: '127.0.0.1', port });
    started.push(proxy);
    proxyPort = proxy.port;
    return ingress;
  }
  let proxyPort = 0;

  beforeAll(async () => {
    certificate = await selfSignedCertificate(publicUrl.hostname);
  });

  afterAll(async () => {
    for (const part of started.reverse()) await part.close();
    await deleteQueuesWithPrefix(rabbitUrl(), prefix);
  });

  /** An emulated VK bucket whose webhooks reach `publicUrl`'s host through the current proxy. */
  async function vkBucket(): Promise<Emulator> {
    // The registered URL is the public one (port 443): the emulator is told to connect to the
    // proxy for that host, as DNS and the load balancer would route it, and to trust the proxy's
    // certificate, as a public CA's would be.
    return startEmulator({
      buckets: [bucket],
      webhooks: {
        connectTo: { [publicUrl.hostname]: { address: '127.0.0.1', port: proxyPort } },
        ca: certificate.cert,
      },
    });
  }
  const registeredUrl = publicUrl.toString();

  it('ships a configuration whose registered URL carries the token over HTTPS', () => {
    expect(publicUrl.protocol).toBe('https:');
    expect(publicUrl.pathname).toBe(`/webhook/mcs/${TOKEN}`);
    expect(example.TRUST_PROXY).toBe('true');
    expect(bucket).not.toBe('');
  });

  it('completes the VK handshake for the registered URL, then accepts its events', async () => {
    await ingressBehindProxy({});
    emulator = await vkBucket();
    started.push(emulator);
    await emulator.registerWebhook(bucket, registeredUrl);
    expect(emulator.webhooks(bucket).map((w) => w.url)).toEqual([registeredUrl]);

    const client = new S3Client({
      endpoint: emulator.endpoint,
      region: emulator.region,
      forcePathStyle: true,
      credentials: emulator.credentials,
    });
    try {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'hello.txt', Body: 'hi' }));
    } finally {
      client.destroy();
    }
    await emulator.idle(20_000);
    const deliveries = emulator.deliveries();
    expect(deliveries.map((d) => d.status)).toContain(200);
    await eventually(async () => expect(await queueDepth(rabbitUrl(), `${prefix}.tasks`)).toBe(1));
  });

  it('fails the handshake without TRUST_PROXY, as the example did before (a check that can fail)', async () => {
    await ingressBehindProxy({ TRUST_PROXY: 'false', PUBLIC_URLS: '' });
    const other = await vkBucket();
    started.push(other);
    await expect(other.registerWebhook(bucket, registeredUrl)).rejects.toMatchObject({
      name: 'InvalidArgument',
    });
  });
});
