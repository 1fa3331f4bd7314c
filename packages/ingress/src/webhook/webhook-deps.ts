import { createIpAllowList, type Config, type Logger } from '@s3relay/core';
import { topologyNames, type OutgoingMessage } from '@s3relay/core/amqp';
import type { IngressMetrics } from '../metrics.js';
import { RecentMessages } from '../recent-messages.js';
import { confirmSnsSubscription, fetchSnsCertificate } from '../sns-fetchers.js';
import type { SubscriptionConfirmer } from '../sns-fetchers.js';
import { createSnsVerifier, type CertificateFetcher, type SnsVerifier } from '../sns-signature.js';
import { RecordsInFlight } from './records-in-flight.js';

/** The publishing port of the ingress; the core `Publisher` is the production adapter. */
export interface IngressPublisher {
  /**
   * Resolves once the broker confirmed every message. Rejects with a TransientError otherwise,
   * at once when it cannot publish now (disconnected, blocked, overloaded): the reason's code
   * (`RELAY_AMQP_BLOCKED`, …) is what the 503 carries.
   */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  /** True when a publish now would be attempted (connected, not blocked). */
  readonly isReady: boolean;
}

/** What the pipeline reads from the configuration, compiled once rather than per request. */
export interface WebhookSettings {
  /** Where tasks go: `<AMQP_PREFIX>.tasks`. */
  readonly tasksQueue: string;
  /** ALLOWED_IPS (every address when empty). */
  readonly isAllowedIp: (address: string) => boolean;
  readonly webhookToken: string | undefined;
  /** PUBLIC_URLS: the URLs VK handshakes are signed over. */
  readonly publicUrls: readonly string[];
  /** SOURCE_BUCKETS (every bucket when empty). */
  readonly sourceBuckets: ReadonlySet<string>;
  /** SNS_TOPIC_ARNS. */
  readonly snsTopicArns: ReadonlySet<string>;
  readonly snsAllowAnyTopic: boolean;
  /** SNS_MAX_AGE: the replay window, either way from now. */
  readonly snsMaxAgeMs: number;
}

/**
 * Everything {@link handleWebhook} works with. The pipeline's state lives here too, shared by the
 * requests of one process: the records in flight and the SNS MessageIds already published.
 */
export interface WebhookDeps {
  readonly settings: WebhookSettings;
  readonly publisher: IngressPublisher;
  readonly logger: Logger;
  readonly metrics: IngressMetrics;
  /** The clock of `receivedAt` and the SNS replay window. */
  readonly now: () => Date;
  /** True once shutdown began: webhooks get 503. */
  readonly isClosing: () => boolean;
  readonly recordsInFlight: RecordsInFlight;
  readonly snsVerifier: SnsVerifier;
  readonly confirmSubscription: SubscriptionConfirmer;
  readonly recentSnsMessages: RecentMessages;
}

export interface WebhookDepsOptions {
  readonly config: Config;
  readonly publisher: IngressPublisher;
  readonly logger: Logger;
  readonly metrics: IngressMetrics;
  /** @default wall clock; also the clock of SNS certificate validity */
  readonly now?: () => Date;
  /** @default never closing */
  readonly isClosing?: () => boolean;
  /** @default fetchSnsCertificate (Node's fetch, no redirects) */
  readonly fetchCertificate?: CertificateFetcher;
  /** @default confirmSnsSubscription */
  readonly confirmSubscription?: SubscriptionConfirmer;
}

/** MessageIds remembered for SNS deduplication, at most. */
const MAX_REMEMBERED_MESSAGE_IDS = 100_000;

/** Compiles the configuration and builds the pipeline's state, once per app. */
export function createWebhookDeps(options: WebhookDepsOptions): WebhookDeps {
  const { config } = options;
  const http = config.http;
  const now = options.now ?? (() => new Date());
  return {
    settings: {
      tasksQueue: topologyNames({
        prefix: config.amqp.prefix,
        retryDelaysMs: config.worker.retryDelaysMs,
      }).tasks,
      isAllowedIp: createIpAllowList(http.allowedIps),
      webhookToken: http.webhookToken,
      publicUrls: http.publicUrls,
      sourceBuckets: new Set(config.source.buckets),
      snsTopicArns: new Set(http.snsTopicArns),
      snsAllowAnyTopic: http.snsAllowAnyTopic,
      snsMaxAgeMs: http.snsMaxAgeMs,
    },
    publisher: options.publisher,
    logger: options.logger,
    metrics: options.metrics,
    now,
    isClosing: options.isClosing ?? (() => false),
    recordsInFlight: new RecordsInFlight(http.maxInFlight),
    snsVerifier: createSnsVerifier({
      fetchCertificate: options.fetchCertificate ?? fetchSnsCertificate,
      now,
    }),
    confirmSubscription: options.confirmSubscription ?? confirmSnsSubscription,
    recentSnsMessages: new RecentMessages({
      ttlMs: http.snsMaxAgeMs,
      maxEntries: MAX_REMEMBERED_MESSAGE_IDS,
      now,
    }),
  };
}
