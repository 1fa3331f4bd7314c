import type { EventPattern, WebhookConfiguration } from './notification-config.js';

/** The object events the emulator emits, without VK's `s3:` prefix. */
export type ObjectEventName =
  | 'ObjectCreated:Put'
  | 'ObjectCreated:Post'
  | 'ObjectCreated:Copy'
  | 'ObjectCreated:CompleteMultipartUpload'
  | 'ObjectRemoved:Delete';

/** True when `pattern` (`s3:ObjectCreated:*`, `s3:ObjectRemoved:Delete`, …) covers `eventName`. */
export function eventMatches(pattern: EventPattern, eventName: ObjectEventName): boolean {
  if (pattern.endsWith(':*')) return `s3:${eventName}`.startsWith(pattern.slice(0, -1));
  return pattern === `s3:${eventName}`;
}

/**
 * True when a webhook configuration wants an event: one of its patterns covers the event and the
 * (decoded) key has the configured prefix and suffix — both, when both are set, as VK documents.
 */
export function configurationMatches(
  configuration: WebhookConfiguration,
  eventName: ObjectEventName,
  key: string,
): boolean {
  return (
    configuration.events.some((pattern) => eventMatches(pattern, eventName)) &&
    (configuration.prefix === undefined || key.startsWith(configuration.prefix)) &&
    (configuration.suffix === undefined || key.endsWith(configuration.suffix))
  );
}
