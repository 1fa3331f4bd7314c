import type { Element } from '@xmldom/xmldom';
import { MALFORMED_XML, invalidArgument, type ParseResult, type S3ErrorReply } from './s3-error.js';
import { childElements, escapeXml, parseXmlRoot, textOf } from './xml.js';

/**
 * The event patterns a VK Cloud webhook can subscribe to (VK's webhook documentation), plus
 * `s3:ObjectCreated:Post` (browser form uploads), which VK's newer notification documentation
 * lists and which s3rver supports.
 */
export const SUPPORTED_EVENTS = [
  's3:ObjectCreated:*',
  's3:ObjectCreated:Put',
  's3:ObjectCreated:Post',
  's3:ObjectCreated:Copy',
  's3:ObjectCreated:CompleteMultipartUpload',
  's3:ObjectRemoved:*',
  's3:ObjectRemoved:Delete',
] as const;

export type EventPattern = (typeof SUPPORTED_EVENTS)[number];

/** One `<SimpleTopicConfiguration>`: where to push which events of which keys. */
export interface WebhookConfiguration {
  readonly id: string;
  /** At least one; VK's TopicArn names one of them per handshake. */
  readonly events: readonly EventPattern[];
  /** Exactly as registered: the handshake signature covers this string byte for byte. */
  readonly url: string;
  readonly prefix?: string;
  readonly suffix?: string;
}

/** The namespace S3 writes on its documents. */
export const S3_XML_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Configuration types of AWS that VK does not offer; refused with a clear message. */
const AWS_ONLY_CONFIGURATIONS = new Set([
  'TopicConfiguration',
  'QueueConfiguration',
  'CloudFunctionConfiguration',
  'LambdaFunctionConfiguration',
  'EventBridgeConfiguration',
]);

/**
 * Parses the body of `PUT /<bucket>?notification` in VK's dialect:
 * `<NotificationConfiguration>` holding zero or more `<SimpleTopicConfiguration>` elements, each
 * with an optional `<Id>` (generated with `newId` when absent or empty), one or more `<Event>`, one
 * `<Url>` (http or https) and an optional `<Filter><S3Key><FilterRule>` list with at most one
 * `Prefix` and one `Suffix` rule (names case-insensitive, as on AWS). An empty configuration is
 * valid and means "no webhooks".
 */
export function parseNotificationConfiguration(
  xml: string,
  newId: () => string,
): ParseResult<WebhookConfiguration[]> {
  const root = parseXmlRoot(xml);
  if (root?.localName !== 'NotificationConfiguration') return fail(MALFORMED_XML);
  const configurations: WebhookConfiguration[] = [];
  const ids = new Set<string>();
  for (const element of childElements(root)) {
    const name = element.localName ?? '';
    if (AWS_ONLY_CONFIGURATIONS.has(name)) {
      return fail(
        invalidArgument(
          `${name} is not supported: VK Cloud buckets accept SimpleTopicConfiguration only`,
          name,
        ),
      );
    }
    if (name !== 'SimpleTopicConfiguration') return fail(MALFORMED_XML);
    const parsed = parseSimpleTopicConfiguration(element, newId);
    if (!parsed.ok) return parsed;
    if (ids.has(parsed.value.id)) {
      return fail(
        invalidArgument('Same ID used for multiple configurations', 'Id', parsed.value.id),
      );
    }
    ids.add(parsed.value.id);
    configurations.push(parsed.value);
  }
  return { ok: true, value: configurations };
}

function parseSimpleTopicConfiguration(
  element: Element,
  newId: () => string,
): ParseResult<WebhookConfiguration> {
  let id: string | undefined;
  let url: string | undefined;
  const events: EventPattern[] = [];
  let filter: ParseResult<{ prefix?: string; suffix?: string }> = { ok: true, value: {} };
  for (const child of childElements(element)) {
    const text = textOf(child).trim();
    switch (child.localName ?? '') {
      case 'Id':
        if (id !== undefined) return fail(MALFORMED_XML);
        id = text;
        break;
      case 'Event':
        if (!isSupportedEvent(text)) {
          return fail(
            invalidArgument('The event is not supported for notifications', 'Event', text),
          );
        }
        if (!events.includes(text)) events.push(text);
        break;
      case 'Url':
        if (url !== undefined) return fail(MALFORMED_XML);
        url = text;
        break;
      case 'Filter':
        filter = parseFilter(child);
        if (!filter.ok) return filter;
        break;
      default:
        return fail(MALFORMED_XML);
    }
  }
  if (url === undefined || events.length === 0) return fail(MALFORMED_XML);
  if (!isWebhookUrl(url)) {
    return fail(invalidArgument('The URL must be an absolute http or https URL', 'Url', url));
  }
  return {
    ok: true,
    value: { id: id === undefined || id === '' ? newId() : id, events, url, ...filter.value },
  };
}

function parseFilter(filter: Element): ParseResult<{ prefix?: string; suffix?: string }> {
  const value: { prefix?: string; suffix?: string } = {};
  const keyFilters = childElements(filter);
  if (keyFilters.some((element) => element.localName !== 'S3Key')) {
    return fail(MALFORMED_XML);
  }
  for (const rule of keyFilters.flatMap(childElements)) {
    if (rule.localName !== 'FilterRule') return fail(MALFORMED_XML);
    const fields = childElements(rule);
    const name = fields.find((field) => field.localName === 'Name');
    const ruleValue = fields.find((field) => field.localName === 'Value');
    if (name === undefined || ruleValue === undefined) return fail(MALFORMED_XML);
    const ruleName = textOf(name).trim().toLowerCase();
    if (ruleName !== 'prefix' && ruleName !== 'suffix') {
      return fail(
        invalidArgument(
          'filter rule name must be either prefix or suffix',
          'FilterRule.Name',
          textOf(name),
        ),
      );
    }
    if (value[ruleName] !== undefined) {
      return fail(
        invalidArgument(
          'Cannot specify more than one prefix or suffix rule in a filter',
          'FilterRule.Name',
          textOf(name),
        ),
      );
    }
    // The value is part of a key: keep it byte for byte, surrounding spaces included.
    value[ruleName] = textOf(ruleValue);
  }
  return { ok: true, value };
}

/** Serialises configurations the way `GET /<bucket>?notification` answers them. */
export function serializeNotificationConfiguration(
  configurations: readonly WebhookConfiguration[],
): string {
  const body = configurations
    .map((configuration) => {
      const events = configuration.events.map((event) => `<Event>${escapeXml(event)}</Event>`);
      const rules = [
        ...(configuration.prefix === undefined ? [] : [filterRule('Prefix', configuration.prefix)]),
        ...(configuration.suffix === undefined ? [] : [filterRule('Suffix', configuration.suffix)]),
      ];
      const filter = rules.length === 0 ? '' : `<Filter><S3Key>${rules.join('')}</S3Key></Filter>`;
      return (
        `<SimpleTopicConfiguration><Id>${escapeXml(configuration.id)}</Id>${events.join('')}` +
        `<Url>${escapeXml(configuration.url)}</Url>${filter}</SimpleTopicConfiguration>`
      );
    })
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<NotificationConfiguration xmlns="${S3_XML_NAMESPACE}">${body}</NotificationConfiguration>`
  );
}

function filterRule(name: string, value: string): string {
  return `<FilterRule><Name>${name}</Name><Value>${escapeXml(value)}</Value></FilterRule>`;
}

function isSupportedEvent(event: string): event is EventPattern {
  return (SUPPORTED_EVENTS as readonly string[]).includes(event);
}

function isWebhookUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

function fail(error: S3ErrorReply): { readonly ok: false; readonly error: S3ErrorReply } {
  return { ok: false, error };
}
