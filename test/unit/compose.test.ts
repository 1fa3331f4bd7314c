import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig, parseDurationMs, type Config } from '@s3relay/core';

// The development stack (docker-compose.yml, .env.example) and the image it builds (Dockerfile,
// .dockerignore), checked against the code without a Docker engine: names, ports, paths and
// credentials that must agree across files.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (relative: string): string => readFileSync(path.join(ROOT, relative), 'utf8');

/** The CLI's commands (packages/cli/src/program.ts); a service running one of these is an s3relay process. */
const CLI_COMMANDS = [
  'ingress',
  'worker',
  'all',
  'dlq',
  'resync',
  'verify',
  'status',
  'sign',
  'janitor',
  'config',
  'dev',
  'console',
] as const;

/** RabbitMQ's consumer_timeout default: a longer-held delivery closes the channel. */
const RABBITMQ_DEFAULT_CONSUMER_TIMEOUT_MS = 30 * 60 * 1000;

// --- compose model --------------------------------------------------------------------------

type Scalar = string | number | boolean | null;

interface Healthcheck {
  readonly test?: string | readonly string[];
}

interface Service {
  readonly image?: string;
  readonly build?: unknown;
  readonly hostname?: string;
  readonly container_name?: string;
  readonly init?: boolean;
  readonly restart?: string;
  readonly command?: string | readonly string[];
  readonly entrypoint?: string | readonly string[];
  readonly environment?: Readonly<Record<string, Scalar>> | readonly string[];
  readonly ports?: readonly (string | { readonly target: number })[];
  readonly volumes?: readonly string[];
  readonly depends_on?:
    | readonly string[]
    | Readonly<Record<string, { readonly condition?: string } | null>>;
  readonly healthcheck?: Healthcheck;
  readonly deploy?: { readonly replicas?: number };
  readonly stop_grace_period?: string;
}

interface ComposeFile {
  readonly name?: string;
  readonly services: Readonly<Record<string, Service>>;
  readonly volumes?: Readonly<Record<string, unknown>>;
}

const INTERPOLATION =
  /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?|:\+|\+)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Compose's interpolation of `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$`. */
function interpolate(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(
    INTERPOLATION,
    (match, braced?: string, operator?: string, operand?: string, bare?: string) => {
      if (match === '$$') return '$';
      const name = braced ?? bare ?? '';
      const value = env[name];
      switch (operator) {
        case undefined:
          return value ?? '';
        case ':-':
          return value === undefined || value === '' ? (operand ?? '') : value;
        case '-':
          return value ?? operand ?? '';
        default:
          throw new Error(`unsupported interpolation ${match}`);
      }
    },
  );
}

/** The names of every variable compose would interpolate (`$$` is an escaped dollar). */
function interpolationVariables(text: string): Set<string> {
  return new Set(
    [...text.matchAll(INTERPOLATION)]
      .map((match) => match[1] ?? match[4])
      .filter((name): name is string => name !== undefined),
  );
}

function interpolationDefaults(text: string): [string, string][] {
  return [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}/g)]
    .filter((match) => text[(match.index ?? 0) - 1] !== '$')
    .map((match) => [match[1] ?? '', match[2] ?? '']);
}

function parseEnvFile(text: string): Record<string, string> {
  const entries = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const at = line.indexOf('=');
      if (at <= 0) throw new Error(`not KEY=VALUE: ${line}`);
      return [line.slice(0, at), line.slice(at + 1)] as const;
    });
  return Object.fromEntries(entries);
}

const COMPOSE_TEXT = read('docker-compose.yml');
const ENV_EXAMPLE = parseEnvFile(read('.env.example'));

function loadCompose(env: Readonly<Record<string, string>>): ComposeFile {
  // Compose resolves YAML merge keys (`<<: *anchor`) and then interpolates every string.
  const raw = parse(COMPOSE_TEXT, { merge: true }) as unknown;
  const resolve = (value: unknown): unknown => {
    if (typeof value === 'string') return interpolate(value, env);
    if (Array.isArray(value)) return value.map(resolve);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
    }
    return value;
  };
  return resolve(raw) as ComposeFile;
}

/** The stack as `docker compose up` sees it without a .env file. */
const compose = loadCompose({});
const services = compose.services;

function service(name: string): Service {
  const found = services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

function environment(svc: Service): Record<string, string> {
  const env = svc.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry: string) => {
        const at = entry.indexOf('=');
        return at < 0 ? [entry, ''] : [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(env as Readonly<Record<string, Scalar>>)
      .filter(([, value]) => value !== null)
      .map(([name, value]) => [name, String(value)]),
  );
}

function words(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? value.split(/\s+/).filter((w) => w !== '') : [...value];
}

function containerPorts(svc: Service): number[] {
  return (svc.ports ?? []).map((port) => {
    if (typeof port !== 'string') return port.target;
    const container = port.split(':').at(-1) ?? '';
    return Number(container.split('/')[0]);
  });
}

function healthcheckUrl(svc: Service): URL {
  const test = words(svc.healthcheck?.test).join(' ');
  const match = /https?:\/\/[^\s'"`)]+/.exec(test);
  if (match === null) throw new Error(`healthcheck without a URL: ${test}`);
  return new URL(match[0]);
}

function dependsOn(svc: Service): Record<string, string | undefined> {
  const deps = svc.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d: string) => [d, undefined]));
  return Object.fromEntries(
    Object.entries(deps as Readonly<Record<string, { condition?: string } | null>>).map(
      ([name, dep]) => [name, dep?.condition],
    ),
  );
}

// --- Dockerfile model -----------------------------------------------------------------------

interface Instruction {
  readonly op: string;
  readonly args: string;
}

interface Stage {
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    const instruction = { op: op.toUpperCase(), args: rest.join(' ') };
    if (instruction.op === 'FROM') {
      stages.push({ name: /\sAS\s+(\S+)$/i.exec(line)?.[1], instructions: [] });
    }
    stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

function stageEnv(stage: Stage): Record<string, string> {
  return Object.fromEntries(
    stage.instructions
      .filter((i) => i.op === 'ENV')
      .flatMap((i) => i.args.split(/\s+/).map((pair) => pair.split('=', 2) as [string, string])),
  );
}

/** Sources a COPY takes from the build context (not `--from` another stage). */
function contextSources(stage: Stage): string[] {
  return stage.instructions
    .filter((i) => i.op === 'COPY' && !i.args.includes('--from='))
    .flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((part) => !part.startsWith('--'));
      return parts.slice(0, -1);
    });
}

/** `.dockerignore` semantics: the last matching pattern wins; a pattern also covers children. */
function dockerignore(text: string): (file: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = (negated ? line.slice(1) : line).replace(/^\/+/, '');
      const source = pattern
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) => {
          if (part === '**/') return '(?:.*/)?';
          if (part === '**') return '.*';
          if (part === '*') return '[^/]*';
          if (part === '?') return '[^/]';
          return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
        })
        .join('');
      return { negated, regex: new RegExp(`^${source}(?:/.*)?$`) };
    });
  return (file) => {
    let excluded = false;
    for (const rule of rules) if (rule.regex.test(file)) excluded = !rule.negated;
    return excluded;
  };
}

function listFiles(relative: string): string[] {
  const absolute = path.join(ROOT, relative);
  if (!statSync(absolute).isDirectory()) return [relative];
  return readdirSync(absolute)
    .filter((entry) => entry !== 'node_modules' && entry !== 'dist')
    .flatMap((entry) => listFiles(path.posix.join(relative, entry)));
}

const DOCKERFILE = parseDockerfile(read('Dockerfile'));
const RUNTIME = DOCKERFILE.at(-1) as Stage;
const IMAGE_ENV = stageEnv(RUNTIME);
const ROOT_PACKAGE = JSON.parse(read('package.json')) as { workspaces: string[] };
const WORKSPACE_MANIFESTS = ROOT_PACKAGE.workspaces.map((w) => `${w}/package.json`).sort();
const PACKAGE_WORKSPACES = ROOT_PACKAGE.workspaces.filter((w) => w.startsWith('packages/'));

/** The workspaces the CLI needs at runtime: its production dependencies among them, transitively. */
const RUNTIME_WORKSPACES = ((): string[] => {
  const byName = new Map(
    PACKAGE_WORKSPACES.map((w) => {
      const manifest = JSON.parse(read(`${w}/package.json`)) as {
        name: string;
        dependencies?: Record<string, string>;
      };
      return [
        manifest.name,
        { workspace: w, dependencies: Object.keys(manifest.dependencies ?? {}) },
      ];
    }),
  );
  const needed = new Set<string>();
  const visit = (name: string): void => {
    const entry = byName.get(name);
    if (entry === undefined || needed.has(entry.workspace)) return;
    needed.add(entry.workspace);
    entry.dependencies.forEach(visit);
  };
  visit('@s3relay/cli');
  return [...needed];
})();

// --- the s3relay services -------------------------------------------------------------------

const S3RELAY_SERVICES = Object.entries(services)
  .filter(([, svc]) => CLI_COMMANDS.some((command) => command === words(svc.command)[0]))
  .map(([name]) => name);

/** The configuration a service's process would load: image ENV, then the service's own. */
function serviceConfig(name: string): Config {
  return loadConfig({ ...IMAGE_ENV, ...environment(service(name)) });
}

const running = (command: string): [string, Service][] =>
  Object.entries(services).filter(([, svc]) => words(svc.command)[0] === command);

describe('docker-compose.yml', () => {
  it('defines the stack and runs the ingress, the worker and the console from the CLI', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'backup',
        'console',
        'grafana',
        'ingress',
        'init',
        'prometheus',
        'rabbitmq',
        'source',
        'worker',
      ].sort(),
    );
    expect(words(service('ingress').command)).toEqual(['ingress']);
    expect(words(service('worker').command)).toEqual(['worker']);
    expect(words(service('console').command)).toEqual(['console']);
    expect(S3RELAY_SERVICES.sort()).toEqual(['console', 'ingress', 'worker']);
  });

  it.each(['ingress', 'worker', 'console'])('%s builds the image from this repository', (name) => {
    const svc = service(name);
    expect(svc.build).toBe('.');
    expect(svc.image).toBe(service('ingress').image);
    // tini as PID 1 reaps what ACTION=script spawns.
    expect(svc.init).toBe(true);
  });

  it.each(['ingress', 'worker', 'console'])('%s sets only variables s3relay knows', (name) => {
    const unknown = Object.keys(environment(service(name))).filter(
      (variable) => !(variable in CONFIG_VARIABLES),
    );
    expect(unknown).toEqual([]);
  });

  it.each(['ingress', 'worker', 'console'])('%s has a configuration that loads', (name) => {
    expect(() => serviceConfig(name)).not.toThrow();
  });

  it('listens on every interface inside the containers', () => {
    expect(serviceConfig('ingress').http.host).toBe('0.0.0.0');
    expect(serviceConfig('ingress').http.metricsHost).toBe('0.0.0.0');
    expect(serviceConfig('worker').worker.metricsHost).toBe('0.0.0.0');
    expect(serviceConfig('console').console.host).toBe('0.0.0.0');
  });

  it('gives the console a token (it refuses to listen beyond loopback without one), its port and the buckets of the workers', () => {
    const settings = serviceConfig('console');
    expect(settings.console.token?.length).toBeGreaterThanOrEqual(16);
    expect(containerPorts(service('console'))).toContain(settings.console.port);
    expect(healthcheckUrl(service('console')).port).toBe(String(settings.console.port));
    const worker = serviceConfig('worker');
    expect(settings.source).toEqual(worker.source);
    expect(settings.dest).toEqual(worker.dest);
    expect(settings.amqp).toEqual(worker.amqp);
  });

  describe('the monitoring profile', () => {
    const monitoring = ['prometheus', 'grafana'];
    const mounted = (name: string, target: string) =>
      (service(name).volumes ?? []).find((v) => v.split(':')[1] === target)?.split(':')[0] ?? '';

    it('starts Prometheus and Grafana only when asked for', () => {
      for (const name of monitoring) {
        expect((service(name) as { profiles?: string[] }).profiles).toEqual(['monitoring']);
      }
      const profiled = Object.entries(services)
        .filter(([, svc]) => (svc as { profiles?: string[] }).profiles !== undefined)
        .map(([name]) => name);
      expect(profiled.sort()).toEqual([...monitoring].sort());
    });

    it("mounts the repository's Prometheus config and rules where the config names them", () => {
      const config = mounted('prometheus', '/etc/prometheus/prometheus.yml');
      expect(config).toBe('./deploy/monitoring/prometheus.yml');
      const prometheus = parse(read(config)) as {
        rule_files: string[];
        scrape_configs: {
          job_name: string;
          static_configs?: { targets: string[] }[];
          dns_sd_configs?: { names: string[]; port: number }[];
        }[];
      };
      for (const rules of prometheus.rule_files) {
        expect(mounted('prometheus', `/etc/prometheus/${rules}`)).toBe(
          `./deploy/monitoring/${rules}`,
        );
      }
      const job = (name: string) => prometheus.scrape_configs.find((c) => c.job_name === name);
      // It scrapes what the stack serves: the ingress's HTTP_METRICS_PORT, the workers'
      // METRICS_PORT (every replica, by the service's DNS name) and RabbitMQ's Prometheus plugin.
      expect(job('s3relay-ingress')?.static_configs?.[0]?.targets).toEqual([
        `ingress:${serviceConfig('ingress').http.metricsPort}`,
      ]);
      expect(job('s3relay-worker')?.dns_sd_configs?.[0]).toMatchObject({
        names: ['worker'],
        port: serviceConfig('worker').worker.metricsPort,
      });
      expect(job('rabbitmq')?.static_configs?.[0]?.targets).toEqual(['rabbitmq:15692']);
    });

    it('provisions the Prometheus data source and the s3relay dashboard in Grafana', () => {
      const datasources = parse(
        read(mounted('grafana', '/etc/grafana/provisioning/datasources/s3relay.yml')),
      ) as { datasources: { type: string; url: string }[] };
      expect(datasources.datasources).toEqual([
        expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }),
      ]);
      const providers = parse(
        read(mounted('grafana', '/etc/grafana/provisioning/dashboards/s3relay.yml')),
      ) as { providers: { options: { path: string } }[] };
      const folder = providers.providers[0]?.options.path ?? '';
      expect(mounted('grafana', `${folder}/s3relay-dashboard.json`)).toBe(
        './deploy/monitoring/grafana/s3relay-dashboard.json',
      );
    });
  });

  it("serves the ingress's metrics apart from its webhook port", () => {
    const { http } = serviceConfig('ingress');
    expect(http.metricsPort).not.toBe(http.port);
  });

  it("publishes the ingress's port and checks its readiness on its metrics port", () => {
    const ingress = service('ingress');
    const { port, metricsPort } = serviceConfig('ingress').http;
    expect(containerPorts(ingress)).toContain(port);
    const url = healthcheckUrl(ingress);
    expect(['127.0.0.1', 'localhost']).toContain(url.hostname);
    expect(Number(url.port)).toBe(metricsPort);
    // `init` waits on this check, and a ready ingress is one that can publish.
    expect(url.pathname).toBe('/readyz');
  });

  it('checks the worker on its metrics port', () => {
    const worker = service('worker');
    const url = healthcheckUrl(worker);
    expect(['127.0.0.1', 'localhost']).toContain(url.hostname);
    expect(Number(url.port)).toBe(serviceConfig('worker').worker.metricsPort);
    expect(['/healthz', '/readyz']).toContain(url.pathname);
  });

  it.each(['ingress', 'worker'])(
    "%s's healthcheck runs a program the image has (node, no curl)",
    (name) => {
      const test = words(service(name).healthcheck?.test);
      expect(test[0]).toBe('CMD');
      expect(test[1]).toBe('node');
    },
  );

  it('runs at least two workers that can be scaled', () => {
    const worker = service('worker');
    expect(worker.deploy?.replicas ?? 1).toBeGreaterThanOrEqual(2);
    // Fixed names or host ports would collide between replicas.
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports ?? []).toEqual([]);
  });

  it.each(['ingress', 'worker'])(
    '%s gets longer than SHUTDOWN_TIMEOUT_MS to stop before SIGKILL',
    (name) => {
      const grace = parseDurationMs(service(name).stop_grace_period ?? '10s');
      expect(grace).toBeGreaterThan(serviceConfig(name).shutdownTimeoutMs);
    },
  );

  it('starts services in order: broker, ingress, buckets and webhook, workers', () => {
    expect(dependsOn(service('ingress'))).toMatchObject({ rabbitmq: 'service_healthy' });
    expect(dependsOn(service('init'))).toMatchObject({
      source: 'service_healthy',
      backup: 'service_healthy',
      ingress: 'service_healthy',
    });
    expect(dependsOn(service('worker'))).toMatchObject({
      rabbitmq: 'service_healthy',
      init: 'service_completed_successfully',
    });
  });

  it('only waits on conditions the dependency can reach', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const [dependency, condition] of Object.entries(dependsOn(svc))) {
        const target = service(dependency);
        expect(condition, `${name} -> ${dependency}`).toBeDefined();
        if (condition === 'service_healthy') {
          expect(target.healthcheck?.test, `${dependency} needs a healthcheck`).toBeDefined();
        }
        if (condition === 'service_completed_successfully') {
          expect(target.restart ?? 'no', `${dependency} must be one-shot`).toBe('no');
        }
      }
    }
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string): void => {
      if (done.has(name)) return;
      expect(visiting.has(name), `dependency cycle through ${name}`).toBe(false);
      visiting.add(name);
      for (const dependency of Object.keys(dependsOn(service(name)))) visit(dependency);
      visiting.delete(name);
      done.add(name);
    };
    for (const name of Object.keys(services)) visit(name);
  });

  it('agrees between ingress and worker on everything the queue topology derives from', () => {
    const ingress = serviceConfig('ingress');
    const worker = serviceConfig('worker');
    expect(ingress.amqp.prefix).toBe(worker.amqp.prefix);
    expect(ingress.amqp.deliveryLimit).toBe(worker.amqp.deliveryLimit);
    expect(ingress.worker.retryDelaysMs).toEqual(worker.worker.retryDelaysMs);
    expect(ingress.amqp.quorumGroupSize).toBe(worker.amqp.quorumGroupSize);
    expect(ingress.amqp.urls).toEqual(worker.amqp.urls);
  });

  it('connects to the stack broker with its credentials', () => {
    const rabbitmq = environment(service('rabbitmq'));
    for (const name of S3RELAY_SERVICES) {
      for (const entry of serviceConfig(name).amqp.urls) {
        const url = new URL(entry);
        expect(url.hostname).toBe('rabbitmq');
        expect(url.port === '' ? 5672 : Number(url.port)).toBe(5672);
        expect(decodeURIComponent(url.username)).toBe(rabbitmq.RABBITMQ_DEFAULT_USER);
        expect(decodeURIComponent(url.password)).toBe(rabbitmq.RABBITMQ_DEFAULT_PASS);
      }
    }
  });

  it('runs a RabbitMQ with quorum queues and at-least-once dead-lettering (>= 3.10)', () => {
    const rabbitmq = service('rabbitmq');
    const tag = /^rabbitmq:(\d+)\.(\d+)/.exec(rabbitmq.image ?? '');
    expect(tag).not.toBeNull();
    const [major, minor] = [Number(tag?.[1]), Number(tag?.[2])];
    expect(major > 3 || (major === 3 && minor >= 10)).toBe(true);
    expect(rabbitmq.image).toContain('management');
    expect(containerPorts(rabbitmq)).toContain(15672);
    expect(words(rabbitmq.healthcheck?.test)).toEqual([
      'CMD',
      'rabbitmq-diagnostics',
      '-q',
      'ping',
    ]);
    // The data directory is named after the host: a fixed hostname keeps the volume's node.
    expect(rabbitmq.hostname).toBeDefined();
    expect(rabbitmq.volumes?.some((v) => v.split(':')[1] === '/var/lib/rabbitmq')).toBe(true);
  });

  it('raises consumer_timeout above the longest copy', () => {
    const mount = service('rabbitmq').volumes?.find((v) => v.includes('/etc/rabbitmq/conf.d/'));
    const file = mount?.split(':')[0] ?? '';
    expect(existsSync(path.join(ROOT, file))).toBe(true);
    const timeout = /^consumer_timeout\s*=\s*(\d+)\s*$/m.exec(read(file))?.[1];
    expect(Number(timeout)).toBeGreaterThan(RABBITMQ_DEFAULT_CONSUMER_TIMEOUT_MS);
  });

  describe('the MinIO source', () => {
    const source = environment(service('source'));
    const targets = Object.keys(source)
      .map((name) => /^MINIO_NOTIFY_WEBHOOK_ENDPOINT_(.+)$/.exec(name)?.[1])
      .filter((id): id is string => id !== undefined);

    it('has exactly one webhook target, enabled', () => {
      expect(targets).toHaveLength(1);
      expect(source[`MINIO_NOTIFY_WEBHOOK_ENABLE_${targets[0]}`]).toBe('on');
    });

    it("posts to the ingress service's port on the MinIO webhook route", () => {
      const url = new URL(source[`MINIO_NOTIFY_WEBHOOK_ENDPOINT_${targets[0]}`] ?? '');
      expect(running('ingress').map(([name]) => name)).toContain(url.hostname);
      expect(Number(url.port)).toBe(serviceConfig(url.hostname).http.port);
      expect(url.pathname).toMatch(/^\/webhook\/minio(\/|$)/);
    });

    it("sends the ingress's WEBHOOK_TOKEN as its auth token", () => {
      const token = source[`MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_${targets[0]}`];
      expect(token).toBeTruthy();
      // One word: MinIO sends `Authorization: Bearer <token>`.
      expect(token).not.toMatch(/\s/);
      expect(token).toBe(serviceConfig('ingress').http.webhookToken);
    });

    it('keeps undelivered events in a queue directory on a volume', () => {
      const dir = source[`MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_${targets[0]}`] ?? '';
      const mounts = (service('source').volumes ?? []).map((v) => v.split(':')[1] ?? '');
      expect(mounts.some((target) => dir === target || dir.startsWith(`${target}/`))).toBe(true);
    });

    it.each(['source', 'backup'])('%s has a MinIO root password MinIO accepts', (name) => {
      expect(environment(service(name)).MINIO_ROOT_PASSWORD?.length).toBeGreaterThanOrEqual(8);
    });
  });

  describe('init', () => {
    const init = environment(service('init'));
    const script = words(service('init').command).join(' ');

    it('uses only variables it defines', () => {
      const used = [...script.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]);
      expect(used.length).toBeGreaterThan(0);
      expect(used.filter((name) => name === undefined || !(name in init))).toEqual([]);
    });

    it('creates the source and backup buckets on their servers', () => {
      expect(script).toContain('http://source:9000');
      expect(script).toContain('http://backup:9000');
      expect(script).toMatch(/mc mb --ignore-existing "source\/\$SOURCE_BUCKET"/);
      expect(script).toMatch(/mc mb --ignore-existing "backup\/\$BACKUP_BUCKET"/);
    });

    it("subscribes the source bucket to the source's webhook target for puts and deletes", () => {
      const source = environment(service('source'));
      const id = Object.keys(source)
        .map((name) => /^MINIO_NOTIFY_WEBHOOK_ENDPOINT_(.+)$/.exec(name)?.[1])
        .find((found) => found !== undefined);
      expect(init.WEBHOOK_ARN).toBe(`arn:minio:sqs::${id}:webhook`);
      expect(script).toMatch(
        /mc event add [^\n]*--event put,delete [^\n]*"source\/\$SOURCE_BUCKET" "\$WEBHOOK_ARN"/,
      );
    });

    it('logs in with the root credentials of each server', () => {
      const source = environment(service('source'));
      const backup = environment(service('backup'));
      expect(init.SOURCE_ACCESS_KEY).toBe(source.MINIO_ROOT_USER);
      expect(init.SOURCE_SECRET_KEY).toBe(source.MINIO_ROOT_PASSWORD);
      expect(init.BACKUP_ACCESS_KEY).toBe(backup.MINIO_ROOT_USER);
      expect(init.BACKUP_SECRET_KEY).toBe(backup.MINIO_ROOT_PASSWORD);
    });

    it('names the buckets the ingress accepts and the worker writes', () => {
      const ingress = serviceConfig('ingress');
      const worker = serviceConfig('worker');
      for (const config of [ingress, worker]) {
        if (config.source.buckets.length > 0) {
          expect(config.source.buckets).toContain(init.SOURCE_BUCKET);
        }
      }
      expect(worker.dest.bucket.replaceAll('{bucket}', init.SOURCE_BUCKET ?? '')).toBe(
        init.BACKUP_BUCKET,
      );
    });
  });

  it('points the worker at the source and backup MinIO with their credentials', () => {
    const worker = serviceConfig('worker');
    for (const [side, name] of [
      [worker.source, 'source'],
      [worker.dest, 'backup'],
    ] as const) {
      const minio = environment(service(name));
      const url = new URL(side.endpoint ?? '');
      expect(url.hostname).toBe(name);
      expect(Number(url.port)).toBe(9000);
      expect(side.forcePathStyle).toBe(true);
      expect(side.accessKeyId).toBe(minio.MINIO_ROOT_USER);
      expect(side.secretAccessKey).toBe(minio.MINIO_ROOT_PASSWORD);
    }
  });

  it('publishes host ports on loopback only', () => {
    for (const [name, svc] of Object.entries(services)) {
      for (const port of svc.ports ?? []) {
        expect(
          typeof port === 'string' && port.startsWith('127.0.0.1:'),
          `${name}: ${JSON.stringify(port)}`,
        ).toBe(true);
      }
    }
  });

  it('declares every named volume it mounts', () => {
    const named = Object.values(services)
      .flatMap((svc) => svc.volumes ?? [])
      .map((v) => v.split(':')[0] ?? '')
      .filter((source) => !source.startsWith('.') && !source.startsWith('/'));
    expect(named.length).toBeGreaterThan(0);
    for (const volume of named) expect(compose.volumes ?? {}).toHaveProperty(volume);
  });
});

describe('docker-compose config (Debian docker-compose 1.29, no engine needed)', () => {
  /** Runs `docker-compose config` on `file` with exactly the variables of `envFile`. */
  const config = (file: string, envFile: string) =>
    spawnSync(
      'docker-compose',
      ['-f', file, '--project-directory', ROOT, '--env-file', envFile, 'config'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() },
      },
    );
  const scratch = mkdtempSync(path.join(tmpdir(), 's3relay-compose-'));
  const noEnv = path.join(scratch, 'empty.env');
  writeFileSync(noEnv, '');

  it('is installed (apt-get install docker-compose, as .ci/run does)', () => {
    expect(() => execFileSync('docker-compose', ['version'], { stdio: 'pipe' })).not.toThrow();
  });

  it.each([
    ['without a .env', noEnv, {}],
    ['with .env.example', path.join(ROOT, '.env.example'), ENV_EXAMPLE],
  ] as const)(
    'accepts docker-compose.yml %s and resolves it as these tests read it',
    (_how, envFile, env) => {
      const run = config(path.join(ROOT, 'docker-compose.yml'), envFile);
      expect(run.status, run.stderr).toBe(0);
      const resolved = parse(run.stdout) as ComposeFile;
      const model = loadCompose(env);
      expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(model.services).sort());
      for (const name of Object.keys(model.services)) {
        expect(environment(resolved.services[name] ?? {}), name).toEqual(
          environment(model.services[name] ?? {}),
        );
        expect(resolved.services[name]?.image, name).toBe(model.services[name]?.image);
      }
    },
  );

  it('refuses a broken file, so a pass means something', () => {
    const broken = path.join(scratch, 'docker-compose.yml');
    writeFileSync(
      broken,
      COMPOSE_TEXT.replace('    restart: unless-stopped\n', '    restart: 42\n    bogus: true\n'),
    );
    const run = config(broken, noEnv);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/bogus|restart/);
  });

  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
});

describe('.env.example', () => {
  const variables = interpolationVariables(COMPOSE_TEXT);

  it('lists exactly the variables docker-compose.yml interpolates', () => {
    expect(Object.keys(ENV_EXAMPLE).sort()).toEqual([...variables.keys()].sort());
  });

  it('holds the same values as the defaults in docker-compose.yml', () => {
    const defaults = interpolationDefaults(COMPOSE_TEXT);
    expect(defaults.length).toBeGreaterThan(0);
    for (const [name, fallback] of defaults) expect(ENV_EXAMPLE[name], name).toBe(fallback);
    expect(loadCompose(ENV_EXAMPLE)).toEqual(compose);
  });

  it('names no s3relay variable, since the CLI loads .env too', () => {
    expect(Object.keys(ENV_EXAMPLE).filter((name) => name in CONFIG_VARIABLES)).toEqual([]);
  });
});

describe('Dockerfile', () => {
  const stage = (name: string): Stage => {
    const found = DOCKERFILE.find((s) => s.name === name);
    if (found === undefined) throw new Error(`no stage ${name}`);
    return found;
  };
  const runs = (s: Stage): string[] =>
    s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);

  it('builds in one stage and runs from another', () => {
    expect(DOCKERFILE.length).toBeGreaterThanOrEqual(2);
    expect(runs(stage('build')).some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(runs(stage('build')).some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    expect(RUNTIME.name).toBe('runtime');
  });

  it('installs only production dependencies, without install scripts, in the runtime', () => {
    const installs = runs(RUNTIME).filter((r) => /\bnpm (ci|install|i)\b/.test(r));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/npm ci\b.*--omit=dev/);
    expect(installs[0]).toContain('--ignore-scripts');
  });

  it("installs no development tool: the runtime's npm ci, replayed, leaves out s3rver", () => {
    const install = runs(RUNTIME).find((r) => /\bnpm ci\b/.test(r)) ?? '';
    const [npm, ...args] = (/npm ci[^&;]*/.exec(install)?.[0] ?? '').trim().split(/\s+/);
    const image = mkdtempSync(path.join(tmpdir(), 's3relay-image-'));
    try {
      for (const source of contextSources(RUNTIME).filter((src) => src.endsWith('.json'))) {
        mkdirSync(path.dirname(path.join(image, source)), { recursive: true });
        writeFileSync(path.join(image, source), read(source));
      }
      // npm's own decision from the lock, without fetching or writing anything.
      const plan = execFileSync(npm ?? 'npm', [...args, '--dry-run', '--offline'], {
        cwd: image,
        encoding: 'utf8',
      });
      const added = [...plan.matchAll(/^add (\S+) /gm)].map((match) => match[1]);
      expect(added).toContain('@s3relay/cli');
      expect(added).toContain('express');
      expect(added).not.toContain('s3rver');
    } finally {
      rmSync(image, { recursive: true, force: true });
    }
  });

  it('copies the manifest of every workspace, or npm ci rejects the lock', () => {
    for (const s of DOCKERFILE) {
      const manifests = contextSources(s).filter((src) => src.endsWith('/package.json'));
      expect(manifests.sort(), s.name).toEqual(WORKSPACE_MANIFESTS);
      expect(contextSources(s)).toContain('package-lock.json');
    }
  });

  it('copies the compiled code of every package the CLI runs on into the runtime, and no other', () => {
    const copied = RUNTIME.instructions
      .filter((i) => i.op === 'COPY' && i.args.includes('--from=build'))
      .map((i) => i.args.split(/\s+/).at(-1));
    expect(copied.sort()).toEqual(RUNTIME_WORKSPACES.map((w) => `${w}/dist`).sort());
    // The emulator is a development dependency (docs/ARCHITECTURE.md, "Why the emulator is a
    // development dependency").
    expect(RUNTIME_WORKSPACES).not.toContain('packages/emulator');
  });

  it('runs the CLI as an unprivileged user', () => {
    const user = RUNTIME.instructions.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    const entrypoint = RUNTIME.instructions.find((i) => i.op === 'ENTRYPOINT')?.args ?? '[]';
    expect(JSON.parse(entrypoint)).toEqual(['node', 'packages/cli/dist/main.js']);
    // tsc -b compiles packages/cli/src/main.ts to that file (rootDir src, outDir dist).
    expect(existsSync(path.join(ROOT, 'packages/cli/src/main.ts'))).toBe(true);
    expect(RUNTIME.instructions.find((i) => i.op === 'STOPSIGNAL')?.args).toBe('SIGTERM');
  });

  it('runs on the Node LTS that CI tests (scripts/node24.sh), which the engines field accepts', () => {
    const image = /^ARG\s+NODE_IMAGE=node:(\d+)-\S+$/m.exec(read('Dockerfile'));
    expect(image, 'ARG NODE_IMAGE=node:<major>-<variant>').not.toBeNull();
    for (const s of DOCKERFILE) {
      const from = s.instructions.find((i) => i.op === 'FROM')?.args ?? '';
      expect(from.split(/\s+/)[0], s.name).toBe('${NODE_IMAGE}');
    }
    const pinned = /^version=\$\{S3RELAY_NODE24_VERSION:-(\d+)\.\d+\.\d+\}$/m.exec(
      read('scripts/node24.sh'),
    );
    expect(pinned?.[1]).toBe(image?.[1]);
    // ">=20.19 <21 || >=22": the image's major must be in the last, open-ended range.
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines;
    const floor = /\|\|\s*>=(\d+)\s*$/.exec(engines.node)?.[1];
    expect(Number(image?.[1])).toBeGreaterThanOrEqual(Number(floor));
  });

  it('configures the image for containers', () => {
    expect(IMAGE_ENV).toMatchObject({
      NODE_ENV: 'production',
      HTTP_HOST: '0.0.0.0',
      METRICS_HOST: '0.0.0.0',
    });
    const exposed = RUNTIME.instructions
      .filter((i) => i.op === 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/));
    expect(exposed).toContain(CONFIG_VARIABLES.HTTP_PORT.default);
    expect(exposed).toContain(CONFIG_VARIABLES.METRICS_PORT.default);
    expect(exposed).toContain(CONFIG_VARIABLES.HTTP_METRICS_PORT.default);
  });

  describe('.dockerignore', () => {
    const ignored = dockerignore(read('.dockerignore'));

    it('keeps host builds, dependencies, secrets and history out of the context', () => {
      for (const file of [
        'node_modules/x/index.js',
        'packages/core/node_modules/x/index.js',
        'packages/core/dist/index.js',
        '.git/HEAD',
        '.env',
        'scratch/notes.md',
        'coverage/index.html',
        'bench/results/run.json',
        '.cache/node-24.22.3-linux-x64/bin/node',
        'test/integration/a.test.ts',
      ]) {
        expect(ignored(file), file).toBe(true);
      }
    });

    it('keeps everything the Dockerfile copies from the context', () => {
      const sources = [...new Set(DOCKERFILE.flatMap(contextSources))];
      for (const source of sources) {
        expect(existsSync(path.join(ROOT, source)), source).toBe(true);
        const needed = listFiles(source).filter(
          (file) => !file.endsWith('.test.ts') && /\.(ts|js|json|html|css)$/.test(file),
        );
        expect(needed.length, source).toBeGreaterThan(0);
        expect(needed.filter(ignored), source).toEqual([]);
      }
    });
  });
});
