import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig, type Config, type VariableSpec } from '@s3relay/core';
import { topologyNames } from '@s3relay/core/amqp';
import {
  DEPLOY,
  ROOT,
  containerEnv,
  containerVariables,
  documents,
  findIn,
  kustomization,
  manifests,
  patchDocuments,
  read,
  render,
  workloadIn,
  yamlFiles,
  type Container,
  type Deployment,
  type Labels,
  type Manifest,
  type Secret,
  type Variable,
} from '../support/deploy-manifests.js';

// The Kubernetes manifests under deploy/, checked without a cluster or kustomize: every file is
// part of a kustomization, every variable is one s3relay reads, and ports, probes, grace periods,
// selectors, queue names and memory agree with the code and with each other.

type Specs = Readonly<Record<string, VariableSpec | undefined>>;

/** RabbitMQ's consumer_timeout default: a longer-held delivery closes the channel. */
const RABBITMQ_DEFAULT_CONSUMER_TIMEOUT_MS = 30 * 60 * 1000;
/** An idle worker's RSS on Node 24, the image's runtime (Node 20: about 80 MiB). */
const WORKER_IDLE_BYTES = 100 * 1024 ** 2;
/**
 * What copying adds to an idle worker besides its part buffers: V8's young generation at its
 * working size, socket buffers not yet collected, per-request state. The 1 GiB copy of
 * test/integration/worker-process.test.ts holds the worker to the same allowance.
 */
const WORKER_COPY_ALLOWANCE_BYTES = 48 * 1024 ** 2;

const FILES = yamlFiles(DEPLOY);
const kustomizationDirs = FILES.filter((f) => path.posix.basename(f) === 'kustomization.yaml').map(
  (f) => path.posix.dirname(f),
);

const BASE = manifests(`${DEPLOY}/base`);

function find<T extends Manifest = Manifest>(kind: string, name: string): T {
  return findIn<T>(BASE, kind, name);
}

function containerVariablesOf(container: Container): Map<string, Variable> {
  return containerVariables(container, BASE);
}

/** A token an operator would put in place of the Secret template's placeholder. */
const OPERATOR_TOKEN = 'operator-chosen-token-0123456789';

/** `objects` with the template Secret's WEBHOOK_TOKEN filled in, as an operator must. */
function withOperatorToken(objects: readonly Manifest[]): Manifest[] {
  return objects.map((m) =>
    m.kind === 'Secret'
      ? { ...m, stringData: { ...(m as Secret).stringData, WEBHOOK_TOKEN: OPERATOR_TOKEN } }
      : m,
  );
}

function containerConfig(container: Container): Config {
  return loadConfig(containerEnv(container, withOperatorToken(BASE)));
}

function workload(command: string): { deployment: Deployment; container: Container } {
  return workloadIn(BASE, command);
}

function portNumber(container: Container, port: string | number): number {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((p) => p.name === port);
  if (named === undefined) throw new Error(`${container.name} has no port named ${port}`);
  return named.containerPort;
}

function selects(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

const BINARY: Readonly<Record<string, number>> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
const DECIMAL: Readonly<Record<string, number>> = { k: 1e3, M: 1e6, G: 1e9 };

/** A Kubernetes memory quantity in bytes (`384Mi`, `1Gi`, `500M`, `1048576`). */
function bytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  if (match === null) throw new Error(`not a memory quantity: ${quantity}`);
  const unit = match[2] === undefined ? 1 : (BINARY[match[2]] ?? DECIMAL[match[2]] ?? NaN);
  return Number(match[1]) * unit;
}

function preStopMs(container: Container): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep !== undefined) return preStop.sleep.seconds * 1000;
  const command = preStop?.exec?.command ?? [];
  return command[0] === 'sleep' ? Number(command[1]) * 1000 : 0;
}

const ingress = workload('ingress');
const worker = workload('worker');
const ROLES = [
  ['ingress', ingress],
  ['worker', worker],
] as const;

// --- tests ----------------------------------------------------------------------------------

describe('deploy/ files', () => {
  it.each(FILES)('%s parses', (file) => {
    const docs = documents(file);
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) expect(doc).toBeTypeOf('object');
  });

  it('has a base and an example overlay', () => {
    expect(kustomizationDirs.sort()).toEqual([`${DEPLOY}/base`, `${DEPLOY}/overlays/example`]);
  });

  it.each(kustomizationDirs)('%s lists existing files and every manifest beside it', (dir) => {
    const k = kustomization(dir);
    const listed = [...(k.resources ?? []), ...(k.patches ?? []).map((p) => p.path ?? '')];
    for (const entry of listed) {
      expect(existsSync(path.join(ROOT, dir, entry)), `${dir}: ${entry}`).toBe(true);
    }
    const beside = FILES.filter(
      (f) => path.posix.dirname(f) === dir && path.posix.basename(f) !== 'kustomization.yaml',
    ).map((f) => path.posix.basename(f));
    expect(beside.filter((file) => !listed.includes(file))).toEqual([]);
  });

  it('gives every base object a kind and a unique name', () => {
    const keys = BASE.map((m) => `${m.kind}/${m.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(BASE.every((m) => m.apiVersion !== '' && m.metadata.name !== '')).toBe(true);
  });
});

describe.each(ROLES)('the %s Deployment', (command, { deployment, container }) => {
  const variables = containerVariablesOf(container);

  it('runs the CLI command of its role from the same image as the other role', () => {
    expect(container.args).toEqual([command]);
    expect(container.image).toBe(ingress.container.image);
  });

  it('sets only variables s3relay knows, from env and envFrom alike', () => {
    expect([...variables.keys()].filter((name) => !(name in CONFIG_VARIABLES))).toEqual([]);
  });

  it("refuses to start with the Secret template's WEBHOOK_TOKEN placeholder", () => {
    expect(() => loadConfig(containerEnv(workload('ingress').container, BASE))).toThrow(
      /WEBHOOK_TOKEN/,
    );
  });

  it('takes every secret variable from a Secret', () => {
    const exposed = [...variables]
      .filter(([name]) => (CONFIG_VARIABLES as Specs)[name]?.secret === true)
      .filter(([, variable]) => variable.from !== 'secret')
      .map(([name]) => name);
    expect(exposed).toEqual([]);
  });

  it('has a configuration that loads', () => {
    expect(() => containerConfig(container)).not.toThrow();
  });

  it('stops within its grace period', () => {
    const graceMs = (deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    expect(graceMs).toBeGreaterThan(
      containerConfig(container).shutdownTimeoutMs + preStopMs(container),
    );
  });

  it('runs unprivileged on a read-only root filesystem', () => {
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    // A numeric user: the kubelet cannot verify runAsNonRoot for the image's `USER node`.
    expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('gets no service-link variables that could shadow its configuration', () => {
    expect(deployment.spec.template.spec.enableServiceLinks).toBe(false);
  });

  it('selects its own pods and not those of the other role', () => {
    const other = command === 'ingress' ? worker : ingress;
    const selector = deployment.spec.selector.matchLabels;
    expect(selects(selector, deployment.spec.template.metadata.labels)).toBe(true);
    expect(selects(selector, other.deployment.spec.template.metadata.labels)).toBe(false);
  });

  it('requests and limits memory', () => {
    const { requests, limits } = container.resources ?? {};
    expect(bytes(limits?.memory ?? '0')).toBeGreaterThanOrEqual(bytes(requests?.memory ?? ''));
  });
});

describe('probes and ports', () => {
  it('probes the ingress on HTTP_METRICS_PORT (uncapped, apart from webhooks): ready at /readyz, alive at /healthz', () => {
    const { container } = ingress;
    const port = containerConfig(container).http.metricsPort;
    expect(containerConfig(container).http.metricsHost).toBe('0.0.0.0');
    expect(container.ports?.map((p) => p.containerPort)).toContain(port);
    const readiness = container.readinessProbe?.httpGet;
    const liveness = container.livenessProbe?.httpGet;
    expect(readiness?.path).toBe('/readyz');
    expect(liveness?.path).toBe('/healthz');
    expect(portNumber(container, readiness?.port ?? '')).toBe(port);
    expect(portNumber(container, liveness?.port ?? '')).toBe(port);
  });

  it('probes the worker on METRICS_PORT: ready at /readyz, alive at /healthz', () => {
    const { container } = worker;
    const port = containerConfig(container).worker.metricsPort;
    expect(containerConfig(container).worker.metricsHost).toBe('0.0.0.0');
    expect(container.ports?.map((p) => p.containerPort)).toContain(port);
    const readiness = container.readinessProbe?.httpGet;
    const liveness = container.livenessProbe?.httpGet;
    expect(readiness?.path).toBe('/readyz');
    expect(liveness?.path).toBe('/healthz');
    expect(portNumber(container, readiness?.port ?? '')).toBe(port);
    expect(portNumber(container, liveness?.port ?? '')).toBe(port);
  });

  it.each(ROLES)('%s tells Prometheus the port that serves /metrics', (command, role) => {
    const config = containerConfig(role.container);
    const annotations = role.deployment.spec.template.metadata.annotations ?? {};
    const port = command === 'ingress' ? config.http.metricsPort : config.worker.metricsPort;
    expect(annotations['prometheus.io/path']).toBe('/metrics');
    expect(Number(annotations['prometheus.io/port'])).toBe(port);
    expect(role.container.ports?.map((p) => p.containerPort)).toContain(port);
  });

  it('serves the ingress metrics apart from the webhooks, on every interface of the pod', () => {
    const config = containerConfig(ingress.container);
    expect(config.http.metricsPort).not.toBe(config.http.port);
    expect(config.http.metricsHost).toBe('0.0.0.0');
  });

  it('drains the ingress before it stops', () => {
    expect(preStopMs(ingress.container)).toBeGreaterThan(0);
  });
});

describe('the ingress Service and PodDisruptionBudget', () => {
  interface Service extends Manifest {
    readonly spec: {
      readonly selector: Labels;
      readonly ports: readonly { readonly name?: string; readonly targetPort: string | number }[];
    };
  }
  interface Budget extends Manifest {
    readonly spec: { readonly minAvailable?: number; readonly selector: { matchLabels: Labels } };
  }
  const ingressLabels = ingress.deployment.spec.template.metadata.labels;
  const workerLabels = worker.deployment.spec.template.metadata.labels;
  const services = BASE.filter((m): m is Service => m.kind === 'Service');
  const budgets = BASE.filter(
    (m): m is Budget => m.kind === 'PodDisruptionBudget' && m.metadata.name === 's3relay-ingress',
  );

  it('routes to the ingress pods only, on HTTP_PORT', () => {
    expect(services).toHaveLength(1);
    const service = services[0] as Service;
    expect(selects(service.spec.selector, ingressLabels)).toBe(true);
    expect(selects(service.spec.selector, workerLabels)).toBe(false);
    const port = containerConfig(ingress.container).http.port;
    for (const p of service.spec.ports) {
      expect(portNumber(ingress.container, p.targetPort)).toBe(port);
    }
  });

  it('keeps one ingress pod through voluntary disruptions without blocking drains', () => {
    expect(budgets).toHaveLength(1);
    const budget = budgets[0] as Budget;
    expect(selects(budget.spec.selector.matchLabels, ingressLabels)).toBe(true);
    expect(selects(budget.spec.selector.matchLabels, workerLabels)).toBe(false);
    expect(budget.spec.minAvailable).toBe(1);
    expect(ingress.deployment.spec.replicas ?? 1).toBeGreaterThan(budget.spec.minAvailable ?? 0);
  });
});

describe('worker sizing and autoscaling', () => {
  interface ScaledObject extends Manifest {
    readonly spec: {
      readonly scaleTargetRef: { readonly name: string; readonly kind?: string };
      readonly minReplicaCount?: number;
      readonly maxReplicaCount?: number;
      readonly triggers: readonly {
        readonly type: string;
        readonly metadata: Readonly<Record<string, string>>;
        readonly authenticationRef?: { readonly name: string; readonly kind?: string };
      }[];
    };
  }
  interface TriggerAuthentication extends Manifest {
    readonly spec: {
      readonly secretTargetRef: readonly {
        readonly parameter: string;
        readonly name: string;
        readonly key: string;
      }[];
    };
  }
  const config = containerConfig(worker.container);
  const scaled = BASE.filter((m): m is ScaledObject => m.kind === 'ScaledObject');

  it('requests the memory of its worst case: concurrency x part buffers x part size', () => {
    const { concurrency, partQueueSize, partSizeBytes } = config.worker;
    // Each copy holds PART_QUEUE_SIZE parts uploading and one being filled.
    const bound =
      concurrency * (partQueueSize + 1) * partSizeBytes +
      WORKER_IDLE_BYTES +
      WORKER_COPY_ALLOWANCE_BYTES;
    const request = bytes(worker.container.resources?.requests?.memory ?? '0');
    expect(request).toBeGreaterThanOrEqual(bound);
  });

  it('is scaled by KEDA, which owns the replica count', () => {
    expect(scaled).toHaveLength(1);
    const target = (scaled[0] as ScaledObject).spec.scaleTargetRef;
    expect(target.kind ?? 'Deployment').toBe('Deployment');
    expect(target.name).toBe(worker.deployment.metadata.name);
    // A fixed count would be reset by every `kubectl apply`, fighting the autoscaler.
    expect(worker.deployment.spec.replicas).toBeUndefined();
    const { minReplicaCount = 0, maxReplicaCount = 100 } = (scaled[0] as ScaledObject).spec;
    expect(minReplicaCount).toBeGreaterThanOrEqual(1);
    expect(maxReplicaCount).toBeGreaterThanOrEqual(minReplicaCount);
  });

  it('on the depth of the tasks queue the workers consume', () => {
    const triggers = (scaled[0] as ScaledObject).spec.triggers;
    expect(triggers).toHaveLength(1);
    const trigger = triggers[0];
    expect(trigger?.type).toBe('rabbitmq');
    const tasks = topologyNames({
      prefix: config.amqp.prefix,
      retryDelaysMs: config.worker.retryDelaysMs,
    }).tasks;
    expect(trigger?.metadata.queueName).toBe(tasks);
    expect(trigger?.metadata.mode).toBe('QueueLength');
    expect(Number(trigger?.metadata.value)).toBeGreaterThan(0);
    // Credentials come from the Secret, never inline.
    expect(trigger?.metadata).not.toHaveProperty('host');
  });

  it("with one URL from the Secret that has the worker's broker user, at the cluster's Service", () => {
    const ref = (scaled[0] as ScaledObject).spec.triggers[0]?.authenticationRef;
    expect(ref?.kind ?? 'TriggerAuthentication').toBe('TriggerAuthentication');
    const auth = find<TriggerAuthentication>('TriggerAuthentication', ref?.name ?? '');
    const host = auth.spec.secretTargetRef.find((t) => t.parameter === 'host');
    const used = worker.container.env?.find((v) => v.name === 'AMQP_URL')?.valueFrom?.secretKeyRef;
    expect(host?.name).toBe(used?.name);
    const secret = find<Secret>('Secret', host?.name ?? '');
    // KEDA parses `host` as one URL: s3relay's list of nodes would not do.
    const keda = new URL(secret.stringData?.[host?.key ?? ''] ?? '');
    const cluster = BASE.find((m) => m.kind === 'RabbitmqCluster');
    expect(keda.hostname).toBe(cluster?.metadata.name);
    for (const entry of containerConfig(worker.container).amqp.urls) {
      const node = new URL(entry);
      expect([keda.username, keda.password, keda.pathname]).toEqual([
        node.username,
        node.password,
        node.pathname,
      ]);
    }
  });
});

describe('the broker', () => {
  interface RabbitmqCluster extends Manifest {
    readonly spec: {
      readonly replicas?: number;
      readonly affinity?: {
        readonly podAntiAffinity?: {
          readonly preferredDuringSchedulingIgnoredDuringExecution?: readonly {
            readonly podAffinityTerm: {
              readonly topologyKey: string;
              readonly labelSelector?: { readonly matchLabels?: Labels };
            };
          }[];
        };
      };
      readonly image?: string;
      readonly persistence?: { readonly storage?: string };
      readonly rabbitmq?: { readonly additionalConfig?: string };
    };
  }
  const clusters = BASE.filter((m): m is RabbitmqCluster => m.kind === 'RabbitmqCluster');
  const cluster = clusters[0] as RabbitmqCluster;

  it('is one 3-node RabbitmqCluster with persistent storage', () => {
    expect(clusters).toHaveLength(1);
    expect(cluster.apiVersion).toBe('rabbitmq.com/v1beta1');
    expect(cluster.spec.replicas).toBe(3);
    expect(bytes(cluster.spec.persistence?.storage ?? '0')).toBeGreaterThan(0);
  });

  it('runs the RabbitMQ version of the compose stack', () => {
    const compose = /^\s+image:\s*(rabbitmq:\S+)\s*$/m.exec(read('docker-compose.yml'))?.[1];
    expect(cluster.spec.image).toBe(compose);
  });

  it('lets a worker hold a task longer than the default consumer_timeout, as in compose', () => {
    const timeout = (text: string): number =>
      Number(/^\s*consumer_timeout\s*=\s*(\d+)\s*$/m.exec(text)?.[1]);
    const configured = timeout(cluster.spec.rabbitmq?.additionalConfig ?? '');
    expect(configured).toBeGreaterThan(RABBITMQ_DEFAULT_CONSUMER_TIMEOUT_MS);
    expect(configured).toBe(timeout(read(`${DEPLOY}/compose/rabbitmq.conf`)));
  });

  /** The labels the operator gives the cluster's pods (its documented internal labels). */
  const podLabels = {
    'app.kubernetes.io/name': cluster.metadata.name,
    'app.kubernetes.io/component': 'rabbitmq',
    'app.kubernetes.io/part-of': 'rabbitmq',
  };

  it.each(ROLES)("lists every node of the cluster in the %s's AMQP_URL", (_command, role) => {
    const name = cluster.metadata.name;
    const hosts = containerConfig(role.container).amqp.urls.map((entry) => {
      const url = new URL(entry);
      expect(url.port === '' ? 5672 : Number(url.port)).toBe(5672);
      return url.hostname;
    });
    // The operator's pods `<name>-server-<n>` under its headless Service `<name>-nodes`.
    const nodes = Array.from(
      { length: cluster.spec.replicas ?? 1 },
      (_, n) => `${name}-server-${n}.${name}-nodes`,
    );
    expect([...hosts].sort()).toEqual(nodes);
  });

  it('replicates every queue on every node', () => {
    for (const [, role] of ROLES) {
      expect(containerConfig(role.container).amqp.quorumGroupSize).toBe(cluster.spec.replicas);
    }
  });

  it('loses at most one node to voluntary disruptions, and spreads its nodes over machines', () => {
    interface Budget extends Manifest {
      readonly spec: {
        readonly maxUnavailable?: number;
        readonly selector: { matchLabels: Labels };
      };
    }
    const budgets = BASE.filter(
      (m): m is Budget =>
        m.kind === 'PodDisruptionBudget' &&
        selects((m as Budget).spec.selector.matchLabels, podLabels),
    );
    expect(budgets).toHaveLength(1);
    const replicas = cluster.spec.replicas ?? 1;
    // A majority of the replicas stays up.
    expect(replicas - (budgets[0]?.spec.maxUnavailable ?? replicas)).toBeGreaterThan(replicas / 2);
    const terms =
      cluster.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
    expect(terms?.length).toBeGreaterThan(0);
    for (const term of terms ?? []) {
      expect(term.podAffinityTerm.topologyKey).toBe('kubernetes.io/hostname');
      const matchLabels = term.podAffinityTerm.labelSelector?.matchLabels ?? {};
      expect(Object.keys(matchLabels)).not.toHaveLength(0);
      expect(selects(matchLabels, podLabels)).toBe(true);
    }
  });

  it('is declared with the same queue arguments by both roles', () => {
    const [a, b] = ROLES.map(([, role]) => containerConfig(role.container));
    expect(a?.amqp.prefix).toBe(b?.amqp.prefix);
    expect(a?.amqp.deliveryLimit).toBe(b?.amqp.deliveryLimit);
    expect(a?.amqp.quorumGroupSize).toBe(b?.amqp.quorumGroupSize);
    expect(a?.worker.retryDelaysMs).toEqual(b?.worker.retryDelaysMs);
  });
});

describe('the example overlay', () => {
  const dir = `${DEPLOY}/overlays/example`;
  interface Ingress extends Manifest {
    readonly spec: {
      readonly rules: readonly {
        readonly host: string;
        readonly http: {
          readonly paths: readonly {
            readonly path: string;
            readonly pathType: string;
            readonly backend: {
              readonly service: {
                readonly name: string;
                readonly port: { readonly name?: string; readonly number?: number };
              };
            };
          }[];
        };
      }[];
    };
  }
  const overlay = manifests(dir);
  const rendered = render(dir);
  const ingresses = overlay.filter((m): m is Ingress => m.kind === 'Ingress');
  const patches = patchDocuments(dir);
  const ingressConfig = loadConfig(
    containerEnv(workloadIn(rendered, 'ingress').container, withOperatorToken(rendered)),
  );

  it('patches only objects of the base', () => {
    expect(patches.length).toBeGreaterThan(0);
    for (const patch of patches) expect(() => find(patch.kind, patch.metadata.name)).not.toThrow();
  });

  it('routes its public webhook paths to the ingress Service', () => {
    expect(ingresses).toHaveLength(1);
    for (const rule of (ingresses[0] as Ingress).spec.rules) {
      for (const { backend } of rule.http.paths) {
        const service = find<Manifest & { spec: { ports: { name?: string; port: number }[] } }>(
          'Service',
          backend.service.name,
        );
        const port = backend.service.port;
        expect(service.spec.ports.some((p) => p.name === port.name || p.port === port.number)).toBe(
          true,
        );
      }
    }
  });

  it('serves every PUBLIC_URLS entry (VK signs the URL as registered)', () => {
    const urls = ingressConfig.http.publicUrls;
    expect(urls.length).toBeGreaterThan(0);
    for (const raw of urls) {
      const url = new URL(raw);
      expect(url.protocol).toBe('https:');
      const rule = (ingresses[0] as Ingress).spec.rules.find((r) => r.host === url.hostname);
      expect(rule, url.hostname).toBeDefined();
      const served = rule?.http.paths.some((p) =>
        p.pathType === 'Exact' ? url.pathname === p.path : url.pathname.startsWith(p.path),
      );
      expect(served, url.pathname).toBe(true);
    }
  });

  it('registers URLs that carry WEBHOOK_TOKEN, which VK cannot send otherwise', () => {
    const token = ingressConfig.http.webhookToken;
    expect(token).toBeDefined();
    for (const raw of ingressConfig.http.publicUrls) {
      const url = new URL(raw);
      const segments = url.pathname.split('/');
      const carried =
        segments[3] === token || url.searchParams.getAll('token').includes(token ?? '');
      expect(carried, `${raw} carries the token`).toBe(true);
    }
  });

  it('trusts the TLS-terminating ingress controller for the scheme VK signs over', () => {
    const tls = (ingresses[0] as Ingress & { spec: { tls?: unknown[] } }).spec.tls ?? [];
    expect(tls.length).toBeGreaterThan(0);
    expect(ingressConfig.http.trustProxy).not.toEqual({ kind: 'hops', hops: 0 });
  });

  it('runs the image of its registry, as the base runs the one compose and the docs build', () => {
    const images = (kustomization(dir).images ?? []).map((image) => image.name);
    const built = /docker build -t (\S+) \./.exec(read(`${DEPLOY}/README.md`))?.[1];
    const composed = /image: \$\{S3RELAY_IMAGE:-([^}]+)\}/.exec(read('docker-compose.yml'))?.[1];
    expect(built).toBeDefined();
    for (const [, role] of ROLES) {
      expect(role.container.image).toBe(built);
      expect(role.container.image).toBe(composed);
      expect(images).toContain(role.container.image.split(':')[0]);
      expect(workloadIn(rendered, role.container.args?.[0] ?? '').container.image).not.toBe(
        role.container.image,
      );
    }
  });

  it('exposes neither /metrics nor the probes', () => {
    const paths = (ingresses[0] as Ingress).spec.rules.flatMap((r) => r.http.paths);
    for (const p of paths) expect(['/', '/metrics', '/healthz', '/readyz']).not.toContain(p.path);
  });
});

describe('the Kubernetes and KEDA schemas', () => {
  /** Kinds no schema package here describes; kustomize and the RabbitMQ operator check them. */
  const UNCHECKED = new Set(['rabbitmq.com/v1beta1 RabbitmqCluster']);
  const models = (apiVersion: string): Promise<Record<string, unknown>> =>
    apiVersion.startsWith('keda.sh/')
      ? import(`@kubernetes-models/keda/${apiVersion}`)
      : import(`kubernetes-models/${apiVersion}`);

  const objects = kustomizationDirs.flatMap((dir) =>
    render(dir).map((m) => [`${dir}: ${m.kind}/${m.metadata.name}`, m] as const),
  );

  it.each(objects)('%s is valid', async (_name, manifest) => {
    if (UNCHECKED.has(`${manifest.apiVersion} ${manifest.kind}`)) return;
    const Model = (await models(manifest.apiVersion))[manifest.kind] as
      | (new (data: unknown) => { validate(): void })
      | undefined;
    expect(Model, `a schema for ${manifest.apiVersion} ${manifest.kind}`).toBeDefined();
    expect(() =>
      new (Model as new (data: unknown) => { validate(): void })(manifest).validate(),
    ).not.toThrow();
  });

  it('leaves unchecked only the kinds it says', () => {
    const kinds = new Set(objects.map(([, m]) => `${m.apiVersion} ${m.kind}`));
    expect([...UNCHECKED].filter((kind) => !kinds.has(kind))).toEqual([]);
  });

  it('refuses what the API server would', async () => {
    const { Deployment } = await import('kubernetes-models/apps/v1');
    const broken = structuredClone(worker.deployment) as unknown as {
      spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } };
    };
    const port = broken.spec.template.spec.containers[0]?.ports[0];
    if (port !== undefined) port.containerPort = '9090';
    expect(() => new Deployment(broken as never).validate()).toThrow(/containerPort/);
  });
});
