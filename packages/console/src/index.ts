export {
  ConsoleConfigError,
  startConsole,
  type ConsoleOptions,
  type ConsoleServer,
} from './console-server.js';
export { isLoopback } from './http/auth.js';
export type {
  ConsoleOperations,
  DlqListing,
  DlqWalk,
  ParkedEntry,
  ParkedSelection,
  Progress,
  QueueSample,
  ResyncOptions,
} from './operations.js';
export type { ResyncResult } from './api-types.js';
