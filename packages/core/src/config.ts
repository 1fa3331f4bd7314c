import { z } from 'zod';
import { parseBrokerUrls } from './amqp/endpoints.js';
import { bucketNameProblem } from './bucket-name.js';
import { ConfigError } from './errors.js';
import { backupNamingProblem } from './s3/backup-naming.js';
import { parseDeleteLimit, type DeleteLimit } from './delete-limit.js';
import { REDACTED, redactUrl } from './redact-url.js';
import { parseTrustProxy, type TrustProxy } from './trust-proxy.js';
import { parseByteSize, parseCidr, parseDurationMs, type Cidr } from './units.js';

/**
 * One environment variable: its schema, its documentation and whether it is a secret.
 * The table below is the single source of the configuration: `loadConfig` validates against it,
 * the README's configuration table is checked against it, and the compose and Kubernetes tests
 * check that every variable they set exists here.
 */
export interface VariableSpec {
  readonly description: string;
  /** The default, as it would be written in the environment; absent when there is none. */
  readonly default?: string;
  readonly secret?: boolean;
  readonly group: 'broker' | 'ingress' | 'source' | 'backup' | 'worker' | 'console' | 'all';
}

/** The variables of the worker's environment every ACTION_SCRIPT run gets (when set). */
export const SCRIPT_BASE_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'] as const;

/**
 * Credentials the SDK would read from the environment: never given to a script, whatever
 * ACTION_SCRIPT_ENV lists (a script that needs S3 gets a profile or a credentials file).
 */
const SDK_SECRET_VARIABLES = ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** WEBHOOK_TOKEN's least length: shorter ones can be guessed by a sender that tries enough. */
export const MIN_TOKEN_LENGTH = 16;

const list = (raw: string): string[] =>
  raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/**
 * One issue per name that S3 would refuse, so the process stops at start rather than with the
 * first task of that bucket (or a listing of a bucket that can never exist).
 */
function checkBucketNames(names: readonly string[], ctx: z.RefinementCtx): void {
  for (const name of names) {
    const problem = bucketNameProblem(name);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: `"${name}" is not a bucket name: ${problem}` });
    }
  }
}

const bool = z.stringbool({
  truthy: ['true', '1', 'yes', 'on'],
  falsy: ['false', '0', 'no', 'off'],
});
/** A whole number within bounds; the message says so in words, not as a type name or NaN. */
const int = (min: number, max: number) =>
  z.string().transform((raw, ctx) => {
    const text = raw.trim();
    const value = Number(text);
    if (!/^[+-]?\d+$/.test(text) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return value;
  });
const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));
const optionalUrl = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value))
  .refine((value) => value === undefined || URL.canParse(value), 'must be a URL');
const duration = z.string().transform((raw, ctx) => {
  try {
    return parseDurationMs(raw);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

function prefixed<P extends string, T extends Record<string, unknown>>(
  prefix: P,
  vars: T,
): { [K in keyof T & string as `${P}${K}`]: T[K] } {
  return Object.fromEntries(
    Object.entries(vars).map(([name, value]) => [prefix + name, value]),
  ) as {
    [K in keyof T & string as `${P}${K}`]: T[K];
  };
}

function s3Variables<S extends 'SOURCE' | 'DEST'>(side: S, group: 'source' | 'backup') {
  const what = side === 'SOURCE' ? 'source' : 'backup';
  return prefixed(`${side}_S3_`, {
    ENDPOINT: {
      spec: {
        group,
        description: `S3 endpoint of the ${what} (empty: AWS S3 of the region)`,
      },
      schema: optionalUrl,
    },
    REGION: {
      spec: { group, description: `Region of the ${what} endpoint`, default: 'us-east-1' },
      schema: z.string().min(1),
    },
    ACCESS_KEY_ID: {
      spec: { group, description: `Access key of the ${what} (empty: the SDK's default chain)` },
      schema: optionalString,
    },
    SECRET_ACCESS_KEY: {
      spec: { group, description: `Secret key of the ${what}`, secret: true },
      schema: optionalString,
    },
    FORCE_PATH_STYLE: {
      spec: {
        group,
        description: `Path-style addressing for the ${what} (default: on when an endpoint is set)`,
      },
      schema: bool.optional(),
    },
    CHECKSUM: {
      spec: {
        group,
        description: `\`when_required\` (S3-compatible stores that reject the SDK's CRC trailers) or \`when_supported\``,
        default: 'when_required',
      },
      schema: z.enum(['when_required', 'when_supported']),
    },
  } as const);
}

const VARIABLES = {
  AMQP_URL: {
    spec: {
      group: 'broker',
      description:
        'RabbitMQ URL; for a cluster, the URL of every node, comma-separated (each process tries them in an order of its own and moves on when one fails)',
      default: 'amqp://guest:guest@127.0.0.1:5672',
      secret: true,
    },
    schema: z.string().transform((raw, ctx) => {
      try {
        return parseBrokerUrls(raw);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  },
  AMQP_PREFIX: {
    spec: {
      group: 'broker',
      description: 'Prefix of every queue s3relay declares',
      default: 's3relay',
    },
    schema: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/, 'letters, digits, dots, dashes and underscores'),
  },
  AMQP_HEARTBEAT_SECONDS: {
    spec: {
      group: 'broker',
      description: 'AMQP heartbeat; a dead connection is noticed within about twice this',
      default: '10',
    },
    schema: int(1, 600),
  },
  AMQP_DELIVERY_LIMIT: {
    spec: {
      group: 'broker',
      description:
        'Deliveries of one task (crashed or killed workers included) before it is parked in the DLQ',
      default: '10',
    },
    schema: int(1, 1000),
  },
  AMQP_QUORUM_GROUP_SIZE: {
    spec: {
      group: 'broker',
      description:
        'Nodes a queue is replicated on when s3relay creates it (`x-quorum-initial-group-size`; every node when the cluster has fewer); existing queues keep theirs',
      default: '3',
    },
    schema: int(1, 99),
  },
  PUBLISH_TIMEOUT_MS: {
    spec: {
      group: 'broker',
      description: 'How long a publish may wait for the broker confirm',
      default: '5000',
    },
    schema: int(100, 120_000),
  },
  HTTP_HOST: {
    spec: {
      group: 'ingress',
      description: 'Address the ingress listens on (0.0.0.0 in containers)',
      default: '127.0.0.1',
    },
    schema: z.string().min(1),
  },
  HTTP_PORT: {
    spec: { group: 'ingress', description: 'Port of the ingress', default: '8080' },
    schema: int(0, 65535),
  },
  HTTP_METRICS_PORT: {
    spec: {
      group: 'ingress',
      description:
        "Port of the ingress's /metrics (and /healthz, /readyz), apart from the webhooks; on METRICS_HOST",
      default: '9091',
    },
    schema: int(0, 65535),
  },
  HTTP_BODY_LIMIT: {
    spec: {
      group: 'ingress',
      description: 'Largest webhook body accepted (413 above); `kb`/`mb` suffixes',
      default: '8mb',
    },
    schema: z.string().transform((raw, ctx) => {
      try {
        return parseByteSize(raw);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  },
  HTTP_MAX_IN_FLIGHT: {
    spec: {
      group: 'ingress',
      description:
        'Records being published at once; above it the ingress answers 503, and 413 to a request that alone has more',
      default: '20000',
    },
    schema: int(1, 1_000_000),
  },
  HTTP_HEADERS_TIMEOUT_MS: {
    spec: {
      group: 'ingress',
      description:
        'Time a client has to send the request headers, from its first byte (or from connecting); the connection is closed then (408). At most HTTP_REQUEST_TIMEOUT_MS',
      default: '10000',
    },
    schema: int(1000, 600_000),
  },
  HTTP_REQUEST_TIMEOUT_MS: {
    spec: {
      group: 'ingress',
      description:
        'Time a client has to send a whole request, body included; the connection is closed then (408). SNS itself gives up after 15 s',
      default: '30000',
    },
    schema: int(1000, 600_000),
  },
  HTTP_KEEP_ALIVE_TIMEOUT_MS: {
    spec: {
      group: 'ingress',
      description:
        "How long an idle keep-alive connection stays open; keep it above the idle timeout of a load balancer in front (AWS ALB's and nginx's: 60 s)",
      default: '65000',
    },
    schema: int(1000, 3_600_000),
  },
  HTTP_MAX_CONNECTIONS: {
    spec: {
      group: 'ingress',
      description:
        'Open connections to the webhook port at most (0: no cap); more are closed at once unanswered. Probes on HTTP_METRICS_PORT are not counted',
      default: '0',
    },
    schema: int(0, 1_000_000),
  },
  PUBLIC_URLS: {
    spec: {
      group: 'ingress',
      description:
        'Comma-separated webhook URLs exactly as registered with the provider (the VK signature covers them byte for byte)',
    },
    schema: z
      .string()
      .optional()
      .transform((raw) => list(raw ?? ''))
      .refine(
        (urls) => urls.every((url) => URL.canParse(url)),
        'every entry must be an absolute URL',
      ),
  },
  TRUST_PROXY: {
    spec: {
      group: 'ingress',
      description:
        'Reverse proxies whose X-Forwarded-For/-Proto/-Host are believed: `false`, a hop count (`true` is 1), or comma-separated proxy CIDRs (`loopback`, `uniquelocal` too) — the CIDRs when clients can also reach the ingress directly',
      default: 'false',
    },
    schema: z.string().transform((raw, ctx) => {
      try {
        return parseTrustProxy(raw);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  },
  WEBHOOK_TOKEN: {
    spec: {
      group: 'ingress',
      description: `Shared secret every webhook must carry, at least ${MIN_TOKEN_LENGTH} characters: \`Authorization: Bearer <token>\`, a Basic auth password, a \`/webhook/<source>/<token>\` path segment or \`?token=\``,
      secret: true,
    },
    schema: z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined || raw === '') return undefined;
        // The messages never quote the value: it is a secret even when it is a bad one.
        if (raw.trim() === '') {
          ctx.addIssue({ code: 'custom', message: 'is blank: unset it or set a real token' });
        } else if (raw.trim() !== raw) {
          ctx.addIssue({ code: 'custom', message: 'starts or ends with whitespace' });
        } else if (raw.length < MIN_TOKEN_LENGTH) {
          ctx.addIssue({
            code: 'custom',
            message: `is shorter than ${MIN_TOKEN_LENGTH} characters (openssl rand -hex 32 makes one)`,
          });
        }
        return raw;
      }),
  },
  ALLOWED_IPS: {
    spec: {
      group: 'ingress',
      description: 'Comma-separated CIDRs allowed to post webhooks (empty: any)',
    },
    schema: z
      .string()
      .optional()
      .transform((raw, ctx): Cidr[] => {
        try {
          return list(raw ?? '').map(parseCidr);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      }),
  },
  SOURCE_BUCKETS: {
    spec: {
      group: 'all',
      description:
        'Comma-separated source buckets s3relay replicates (empty: any): the ingress refuses events of other buckets, workers park their tasks, `resync` and `verify` refuse them. Must name exactly one bucket when neither DEST_BUCKET nor DEST_PREFIX has `{bucket}`',
    },
    schema: z
      .string()
      .optional()
      .transform((raw) => list(raw ?? ''))
      .superRefine(checkBucketNames),
  },
  SNS_TOPIC_ARNS: {
    spec: {
      group: 'ingress',
      description:
        'Comma-separated SNS topic ARNs to accept (empty: SNS is refused, unless SNS_ALLOW_ANY_TOPIC)',
    },
    schema: z
      .string()
      .optional()
      .transform((raw) => list(raw ?? '')),
  },
  SNS_ALLOW_ANY_TOPIC: {
    spec: {
      group: 'ingress',
      description:
        "Accept SNS messages of any topic while SNS_TOPIC_ARNS is empty: any AWS account's topic can then subscribe the ingress and post events",
      default: 'false',
    },
    schema: bool,
  },
  SNS_MAX_AGE: {
    spec: {
      group: 'ingress',
      description: 'SNS messages older than this are rejected as replays',
      default: '1h15m',
    },
    schema: duration,
  },
  ...s3Variables('SOURCE', 'source'),
  ...s3Variables('DEST', 'backup'),
  DEST_BUCKET: {
    spec: {
      group: 'backup',
      description:
        'Backup bucket; `{bucket}` expands to the source bucket name. Without `{bucket}` here or in DEST_PREFIX, SOURCE_BUCKETS must name exactly one bucket (no two source buckets may share backup keys)',
      default: '{bucket}',
    },
    // With `{bucket}` it is a bucket name only once expanded, and the source names are checked.
    schema: z
      .string()
      .min(1)
      .superRefine((bucket, ctx) => {
        if (!bucket.includes('{bucket}')) checkBucketNames([bucket], ctx);
      }),
  },
  DEST_PREFIX: {
    spec: {
      group: 'backup',
      description:
        'Prefix put before every backup key; `{bucket}/` expands to the source bucket (several source buckets in one backup bucket: `DEST_PREFIX={bucket}/`)',
      default: '',
    },
    schema: z.string().default(''),
  },
  WORKER_CONCURRENCY: {
    spec: {
      group: 'worker',
      description: 'Tasks one worker handles at once (the AMQP prefetch)',
      default: '16',
    },
    schema: int(1, 1000),
  },
  PART_SIZE_MB: {
    spec: {
      group: 'worker',
      description: 'Multipart part size in MiB (S3 minimum 5)',
      default: '8',
    },
    schema: int(5, 5120),
  },
  PART_QUEUE_SIZE: {
    spec: { group: 'worker', description: 'Parts of one object uploaded at once', default: '4' },
    schema: int(1, 64),
  },
  REPLICATE_DELETES: {
    spec: {
      group: 'worker',
      description: 'Delete the backup object when the source object is gone',
      default: 'true',
    },
    schema: bool,
  },
  DELETE_LIMIT: {
    spec: {
      group: 'worker',
      description:
        'Most backup deletes by all workers together per window (`500/10m`); more are held in `<prefix>.held` for `s3relay held`. `0`: the backup never deletes',
      default: '1000/1h',
    },
    schema: z.string().transform((raw, ctx) => {
      try {
        return parseDeleteLimit(raw);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  },
  REPLICATE_TAGS: {
    spec: {
      group: 'worker',
      description:
        'Copy object tags (read only for objects that have some); off for a backup store without tagging',
      default: 'true',
    },
    schema: bool,
  },
  RETRY_DELAYS: {
    spec: {
      group: 'worker',
      description: 'Delay tiers of transient failures, in order (the last repeats)',
      default: '1s,10s,1m,10m,1h',
    },
    schema: z.string().transform((raw, ctx) => {
      try {
        const delays = list(raw).map(parseDurationMs);
        if (delays.length === 0) throw new Error('at least one delay');
        return delays;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  },
  MAX_ATTEMPTS: {
    spec: {
      group: 'worker',
      description: 'Attempts of a task before it is parked in the DLQ',
      default: '8',
    },
    schema: int(1, 1000),
  },
  SOURCE_IDLE_TIMEOUT_MS: {
    spec: {
      group: 'worker',
      description: 'A source body that sends nothing for this long fails (and is retried)',
      default: '30000',
    },
    schema: int(100, 3_600_000),
  },
  ACTION: {
    spec: {
      group: 'worker',
      description: '`replicate`, or `script` to run ACTION_SCRIPT per task',
      default: 'replicate',
    },
    schema: z.enum(['replicate', 'script']),
  },
  ACTION_SCRIPT: {
    spec: {
      group: 'worker',
      description:
        'Executable run as `<script> <bucket> <key> copy|delete` when ACTION=script; the task is in its environment too (`S3RELAY_BUCKET`, `S3RELAY_KEY`, `S3RELAY_VERB`, …)',
    },
    schema: optionalString,
  },
  ACTION_SCRIPT_ENV: {
    spec: {
      group: 'worker',
      description: `Comma-separated names of further variables of the worker's environment that ACTION_SCRIPT gets; it gets only these, ${SCRIPT_BASE_ENV.join(', ')} and its task's S3RELAY_* variables. s3relay's secrets (AMQP_URL, the S3 secret keys, tokens) are refused`,
    },
    schema: z
      .string()
      .optional()
      .transform((raw) => list(raw ?? ''))
      .refine(
        (names) => names.every((name) => ENV_NAME.test(name)),
        'names of environment variables (letters, digits, underscores)',
      ),
  },
  ACTION_SCRIPT_TIMEOUT_MS: {
    spec: { group: 'worker', description: 'Time limit of one script run', default: '300000' },
    schema: int(100, 86_400_000),
  },
  METRICS_PORT: {
    spec: {
      group: 'worker',
      description: "Port of the worker's /healthz, /readyz and /metrics",
      default: '9090',
    },
    schema: int(0, 65535),
  },
  METRICS_HOST: {
    spec: {
      group: 'all',
      description:
        'Address of the metrics servers of the worker (METRICS_PORT) and the ingress (HTTP_METRICS_PORT)',
      default: '127.0.0.1',
    },
    schema: z.string().min(1),
  },
  CONSOLE_HOST: {
    spec: {
      group: 'console',
      description:
        'Address `s3relay console` listens on; any other than loopback requires CONSOLE_TOKEN',
      default: '127.0.0.1',
    },
    schema: z.string().min(1),
  },
  CONSOLE_PORT: {
    spec: { group: 'console', description: 'Port of `s3relay console`', default: '9400' },
    schema: int(0, 65535),
  },
  CONSOLE_TOKEN: {
    spec: {
      group: 'console',
      description:
        'Token the console asks for before showing anything (required unless it listens on loopback)',
      secret: true,
    },
    schema: optionalString.refine(
      (value) => value === undefined || value.length >= 16,
      'at least 16 characters',
    ),
  },
  TELEMETRY_INTERVAL_MS: {
    spec: {
      group: 'all',
      description:
        'How often each ingress and worker publishes its counters to `<prefix>.telemetry` for the console (0: never)',
      default: '5000',
    },
    schema: int(0, 300_000).refine(
      (value) => value === 0 || value >= 100,
      '0 (off) or at least 100',
    ),
  },
  LOG_LEVEL: {
    spec: { group: 'all', description: '`error`, `warn`, `info` or `debug`', default: 'info' },
    schema: z.enum(['error', 'warn', 'info', 'debug']),
  },
  LOG_FORMAT: {
    spec: {
      group: 'all',
      description:
        '`json` (one object a line) or `pretty` (coloured on a terminal only, never with `NO_COLOR` set)',
      default: 'json',
    },
    schema: z.enum(['json', 'pretty']),
  },
  SHUTDOWN_TIMEOUT_MS: {
    spec: {
      group: 'all',
      description: 'Grace period on SIGTERM before in-flight work is aborted and requeued',
      default: '25000',
    },
    schema: int(0, 3_600_000),
  },
} as const satisfies Record<string, { spec: VariableSpec; schema: z.ZodType }>;

export type VariableName = keyof typeof VARIABLES;

/** Every configuration variable with its documentation, in the README's order. */
export const CONFIG_VARIABLES: Readonly<Record<VariableName, VariableSpec>> = Object.freeze(
  Object.fromEntries(Object.entries(VARIABLES).map(([name, { spec }]) => [name, spec])) as Record<
    VariableName,
    VariableSpec
  >,
);

const EnvSchema = z.object(
  Object.fromEntries(
    Object.entries(VARIABLES).map(([name, { spec, schema }]) => {
      const withDefault =
        'default' in spec
          ? z.preprocess(
              (value) => (value === undefined || value === '' ? spec.default : value),
              schema,
            )
          : schema;
      return [name, withDefault];
    }),
  ) as { [K in VariableName]: (typeof VARIABLES)[K]['schema'] },
);

type Env = z.infer<typeof EnvSchema>;

/** Connection settings of one S3 endpoint. */
export interface S3EndpointConfig {
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly accessKeyId: string | undefined;
  readonly secretAccessKey: string | undefined;
  readonly forcePathStyle: boolean;
  readonly checksum: 'when_required' | 'when_supported';
}

/** The compiled, fully defaulted configuration of every s3relay process. */
export interface Config {
  readonly amqp: {
    /** One URL per node (one for a single broker). */
    readonly urls: readonly string[];
    readonly prefix: string;
    readonly heartbeatSeconds: number;
    readonly deliveryLimit: number;
    readonly quorumGroupSize: number;
    readonly publishTimeoutMs: number;
  };
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly metricsHost: string;
    readonly metricsPort: number;
    readonly bodyLimitBytes: number;
    readonly maxInFlight: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
    /** 0: no cap. */
    readonly maxConnections: number;
    readonly publicUrls: readonly string[];
    readonly trustProxy: TrustProxy;
    readonly webhookToken: string | undefined;
    readonly allowedIps: readonly Cidr[];
    readonly snsTopicArns: readonly string[];
    readonly snsAllowAnyTopic: boolean;
    readonly snsMaxAgeMs: number;
  };
  /** `buckets`: SOURCE_BUCKETS, the only source buckets replicated (empty: any). */
  readonly source: S3EndpointConfig & { readonly buckets: readonly string[] };
  readonly dest: S3EndpointConfig & { readonly bucket: string; readonly prefix: string };
  readonly worker: {
    readonly concurrency: number;
    readonly partSizeBytes: number;
    readonly partQueueSize: number;
    readonly replicateDeletes: boolean;
    /** DELETE_LIMIT: a count of 0 means the backup never deletes. */
    readonly deleteLimit: DeleteLimit;
    readonly replicateTags: boolean;
    readonly retryDelaysMs: readonly number[];
    readonly maxAttempts: number;
    readonly sourceIdleTimeoutMs: number;
    readonly action: 'replicate' | 'script';
    readonly actionScript: string | undefined;
    readonly actionScriptTimeoutMs: number;
    /** ACTION_SCRIPT_ENV: names passed to the script besides {@link SCRIPT_BASE_ENV}. */
    readonly actionScriptEnv: readonly string[];
    readonly metricsHost: string;
    readonly metricsPort: number;
  };
  readonly console: {
    readonly host: string;
    readonly port: number;
    readonly token: string | undefined;
  };
  /** How often a service publishes its telemetry snapshot; 0 turns it off. */
  readonly telemetryIntervalMs: number;
  readonly log: {
    readonly level: 'error' | 'warn' | 'info' | 'debug';
    readonly format: 'json' | 'pretty';
  };
  readonly shutdownTimeoutMs: number;
}

function s3Endpoint(env: Env, side: 'SOURCE' | 'DEST'): S3EndpointConfig {
  const endpoint = env[`${side}_S3_ENDPOINT`];
  return {
    endpoint,
    region: env[`${side}_S3_REGION`],
    accessKeyId: env[`${side}_S3_ACCESS_KEY_ID`],
    secretAccessKey: env[`${side}_S3_SECRET_ACCESS_KEY`],
    forcePathStyle: env[`${side}_S3_FORCE_PATH_STYLE`] ?? endpoint !== undefined,
    checksum: env[`${side}_S3_CHECKSUM`],
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Values longer than this are cut when shown. */
const SHOWN_VALUE_CHARS = 80;

/**
 * One line per invalid variable with the value it has, as the operator wrote it
 * (`WORKER_CONCURRENCY=abc: expected a whole number from 1 to 1000`); a secret's value is
 * never shown, even a bad one.
 */
function describeIssues(error: z.ZodError, env: Record<string, string | undefined>): string {
  return error.issues
    .map((issue) => {
      const name = String(issue.path[0] ?? '');
      const raw = env[name];
      const secret = (CONFIG_VARIABLES as Record<string, VariableSpec | undefined>)[name]?.secret;
      let shown: string;
      if (raw === undefined || raw === '') shown = `${name} (unset)`;
      else if (secret === true) shown = `${name}=${REDACTED}`;
      else {
        const cut = raw.length > SHOWN_VALUE_CHARS ? `${raw.slice(0, SHOWN_VALUE_CHARS)}…` : raw;
        shown = `${name}=${/^[^\s"'\\]*$/.test(cut) ? cut : JSON.stringify(cut)}`;
      }
      return `✖ ${shown}: ${issue.message}`;
    })
    .join('\n');
}

/**
 * Validates the environment and returns the frozen configuration.
 *
 * Throws {@link ConfigError} listing every invalid variable at once; it never exits the process
 * and never puts a secret's value in the message.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(Object.keys(VARIABLES).map((name) => [name, env[name]]));
  const result = EnvSchema.safeParse(known);
  if (!result.success) {
    throw new ConfigError(`invalid configuration:\n${describeIssues(result.error, known)}`);
  }
  const e = result.data;
  const problems: string[] = [];
  if (e.ACTION === 'script' && e.ACTION_SCRIPT === undefined) {
    problems.push('✖ ACTION_SCRIPT is required when ACTION=script\n  → at ACTION_SCRIPT');
  }
  const naming = backupNamingProblem(
    { bucket: e.DEST_BUCKET, prefix: e.DEST_PREFIX },
    e.SOURCE_BUCKETS,
  );
  const secrets = e.ACTION_SCRIPT_ENV.filter(
    (name) =>
      SDK_SECRET_VARIABLES.includes(name) ||
      (name in VARIABLES && CONFIG_VARIABLES[name as VariableName].secret === true),
  );
  if (secrets.length > 0) {
    problems.push(
      `✖ ACTION_SCRIPT_ENV lists secrets, which a script never gets: ${secrets.join(', ')}\n  → at ACTION_SCRIPT_ENV`,
    );
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    problems.push(
      '✖ HTTP_HEADERS_TIMEOUT_MS exceeds HTTP_REQUEST_TIMEOUT_MS, which covers the headers too\n  → at HTTP_HEADERS_TIMEOUT_MS',
    );
  }
  if (naming !== undefined)
    problems.push(`✖ ${naming}\n  → at DEST_BUCKET, DEST_PREFIX, SOURCE_BUCKETS`);
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);

  return deepFreeze({
    amqp: {
      urls: e.AMQP_URL,
      prefix: e.AMQP_PREFIX,
      heartbeatSeconds: e.AMQP_HEARTBEAT_SECONDS,
      deliveryLimit: e.AMQP_DELIVERY_LIMIT,
      quorumGroupSize: e.AMQP_QUORUM_GROUP_SIZE,
      publishTimeoutMs: e.PUBLISH_TIMEOUT_MS,
    },
    http: {
      host: e.HTTP_HOST,
      port: e.HTTP_PORT,
      metricsHost: e.METRICS_HOST,
      metricsPort: e.HTTP_METRICS_PORT,
      bodyLimitBytes: e.HTTP_BODY_LIMIT,
      maxInFlight: e.HTTP_MAX_IN_FLIGHT,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: e.HTTP_MAX_CONNECTIONS,
      publicUrls: e.PUBLIC_URLS,
      trustProxy: e.TRUST_PROXY,
      webhookToken: e.WEBHOOK_TOKEN,
      allowedIps: e.ALLOWED_IPS,
      snsTopicArns: e.SNS_TOPIC_ARNS,
      snsAllowAnyTopic: e.SNS_ALLOW_ANY_TOPIC,
      snsMaxAgeMs: e.SNS_MAX_AGE,
    },
    source: { ...s3Endpoint(e, 'SOURCE'), buckets: e.SOURCE_BUCKETS },
    dest: { ...s3Endpoint(e, 'DEST'), bucket: e.DEST_BUCKET, prefix: e.DEST_PREFIX },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      partSizeBytes: e.PART_SIZE_MB * 1024 * 1024,
      partQueueSize: e.PART_QUEUE_SIZE,
      replicateDeletes: e.REPLICATE_DELETES,
      deleteLimit: e.DELETE_LIMIT,
      replicateTags: e.REPLICATE_TAGS,
      retryDelaysMs: e.RETRY_DELAYS,
      maxAttempts: e.MAX_ATTEMPTS,
      sourceIdleTimeoutMs: e.SOURCE_IDLE_TIMEOUT_MS,
      action: e.ACTION,
      actionScript: e.ACTION_SCRIPT,
      actionScriptTimeoutMs: e.ACTION_SCRIPT_TIMEOUT_MS,
      actionScriptEnv: e.ACTION_SCRIPT_ENV,
      metricsHost: e.METRICS_HOST,
      metricsPort: e.METRICS_PORT,
    },
    console: { host: e.CONSOLE_HOST, port: e.CONSOLE_PORT, token: e.CONSOLE_TOKEN },
    telemetryIntervalMs: e.TELEMETRY_INTERVAL_MS,
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  });
}

/**
 * The configuration with every secret replaced, safe to log and print: secret variables, the
 * broker password, and the webhook token wherever PUBLIC_URLS carry it.
 */
export function redactConfig(config: Config): Config {
  const redact = (value: string | undefined) => (value === undefined ? undefined : REDACTED);
  const token = config.http.webhookToken;
  return {
    ...config,
    amqp: { ...config.amqp, urls: config.amqp.urls.map((url) => redactUrl(url)) },
    http: {
      ...config.http,
      webhookToken: redact(token),
      publicUrls: config.http.publicUrls.map((url) => redactUrl(url, [token])),
    },
    console: { ...config.console, token: redact(config.console.token) },
    source: { ...config.source, secretAccessKey: redact(config.source.secretAccessKey) },
    dest: { ...config.dest, secretAccessKey: redact(config.dest.secretAccessKey) },
  };
}
