export { isTelemetryMetric, readTelemetryMetrics } from './from-registry.js';
export { TelemetryPublisher, type TelemetryPublisherOptions } from './publisher.js';
export {
  TELEMETRY_ROLES,
  parseTelemetrySnapshot,
  telemetryExchange,
  type TelemetryMetric,
  type TelemetryRole,
  type TelemetrySample,
  type TelemetrySnapshot,
} from './snapshot.js';
