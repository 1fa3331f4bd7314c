export { MAX_BUCKET_NAME_LENGTH, bucketNameProblem } from './bucket-name.js';
export {
  CONFIG_VARIABLES,
  MIN_TOKEN_LENGTH,
  SCRIPT_BASE_ENV,
  loadConfig,
  redactConfig,
  type Config,
  type S3EndpointConfig,
  type VariableName,
  type VariableSpec,
} from './config.js';
export {
  MAX_DELETE_LIMIT_COUNT,
  deletesReplicated,
  formatDeleteLimit,
  parseDeleteLimit,
  type DeleteLimit,
} from './delete-limit.js';
export {
  ConfigError,
  ERROR_CATALOGUE,
  PermanentError,
  RelayError,
  TransientError,
  httpStatusOf,
  type ErrorCode,
  type ErrorContext,
  type ErrorSpec,
  type PermanentCode,
  type TransientCode,
} from './errors.js';
export {
  createLogger,
  serializeError,
  summarizeError,
  silentLogger,
  type Logger,
  type LoggerOptions,
} from './logger.js';
export { listenError, type ListenTarget } from './listen-error.js';
export {
  startMetricsServer,
  type MetricsServer,
  type MetricsServerOptions,
} from './metrics-server.js';
export { REDACTED, redactUrl } from './redact-url.js';
export {
  Lifecycle,
  type LifecycleOptions,
  type ServiceState,
  type StartContext,
} from './service/lifecycle.js';
export {
  PROBE_PATHS,
  isReadyProbe,
  serveProbe,
  type ProbeBody,
  type ProbeSource,
} from './service/probe.js';
export type { Service } from './service/service.js';
export { parseTrustProxy, type TrustProxy } from './trust-proxy.js';
export { vkSignature, type VkHandshake } from './signature.js';
export { TaskHeaders } from './task-headers.js';
export {
  MAX_KEY_BYTES,
  RECOPY_EVENT_NAME,
  TASK_KINDS,
  TASK_ORIGINS,
  TaskSchema,
  WEBHOOK_SOURCES,
  createTask,
  isRecopy,
  kindOf,
  parseTask,
  taskId,
  type ParsedTask,
  type Task,
  type TaskIdentity,
  type TaskInput,
  type TaskKind,
  type TaskOrigin,
  type WebhookSource,
} from './task.js';
export {
  createIpAllowList,
  formatDuration,
  parseByteSize,
  parseCidr,
  parseDurationMs,
  type Cidr,
} from './units.js';
export {
  parseWebhook,
  type SnsMessage,
  type WebhookHeaders,
  type WebhookInput,
  type WebhookParseResult,
  type WebhookRejection,
} from './events/index.js';
