import { PermanentError, TransientError, type SnsMessage, type Task } from '@s3relay/core';
import { assertSubscribeUrl } from '../sns-urls.js';
import { publishRecords } from './publish-records.js';
import type { HandledWebhook } from './webhook-answer.js';
import type { WebhookDeps } from './webhook-deps.js';

/**
 * Acts on an SNS message once it is proven to be for us and from AWS: confirms a subscription,
 * logs an unsubscription, publishes a Notification's records once per MessageId.
 */
export async function handleSnsMessage(
  deps: WebhookDeps,
  message: SnsMessage,
  tasks: readonly Task[],
): Promise<HandledWebhook> {
  const { settings, logger } = deps;
  const meta = { messageId: message.MessageId, topicArn: message.TopicArn, type: message.Type };
  // Cheap checks first: a message refused here costs no certificate fetch. A valid signature
  // proves only that AWS sent it, for a topic of any account: the topic list says whose.
  if (settings.snsTopicArns.size === 0 && !settings.snsAllowAnyTopic) {
    throw new PermanentError(
      'RELAY_SNS_TOPIC_NOT_ALLOWED',
      'SNS_TOPIC_ARNS is empty: SNS messages are refused until it lists the topics to accept (or SNS_ALLOW_ANY_TOPIC=true)',
    );
  }
  if (settings.snsTopicArns.size > 0 && !settings.snsTopicArns.has(message.TopicArn)) {
    throw new PermanentError(
      'RELAY_SNS_TOPIC_NOT_ALLOWED',
      'the SNS topic is not in SNS_TOPIC_ARNS',
    );
  }
  checkFreshness(deps, message);
  await deps.snsVerifier.verify(message);
  switch (message.Type) {
    case 'SubscriptionConfirmation': {
      const url = assertSubscribeUrl(message.SubscribeURL ?? '', message.TopicArn).toString();
      try {
        await deps.confirmSubscription(url);
      } catch (err) {
        throw new TransientError(
          'RELAY_SNS_CONFIRM_FAILED',
          'visiting the SubscribeURL failed; SNS will retry the confirmation',
          { cause: err },
        );
      }
      logger.info('sns subscription confirmed', meta);
      return {
        status: 200,
        body: { confirmed: true },
        outcome: 'handshake',
        source: 'sns',
        records: 0,
        meta,
      };
    }
    case 'UnsubscribeConfirmation':
      // Its SubscribeURL would subscribe again; an operator who wants that does it by hand.
      logger.warn('sns unsubscribe confirmation received; SubscribeURL not visited', meta);
      return {
        status: 200,
        body: { accepted: 0 },
        outcome: 'ignored',
        source: 'sns',
        records: 0,
        meta,
      };
    case 'Notification': {
      const result = await deps.recentSnsMessages.publishOnce(message.MessageId, () =>
        publishRecords(deps, 'sns', tasks),
      );
      if (!result.duplicate) return { ...result.value, meta };
      return {
        status: 200,
        body: { accepted: 0, duplicate: true },
        outcome: 'duplicate',
        source: 'sns',
        records: 0,
        meta,
      };
    }
  }
}

/** Refuses a message sent outside SNS_MAX_AGE of now, either way: a replay, or a forged date. */
function checkFreshness(deps: WebhookDeps, message: SnsMessage): void {
  const sentAt = Date.parse(message.Timestamp);
  if (Number.isNaN(sentAt)) {
    throw new PermanentError('RELAY_SNS_REPLAY', 'the SNS Timestamp is not a date');
  }
  const ageMs = deps.now().getTime() - sentAt;
  // Clock skew works both ways: a Timestamp far in the future is as suspicious as an old one.
  if (Math.abs(ageMs) > deps.settings.snsMaxAgeMs) {
    throw new PermanentError(
      'RELAY_SNS_REPLAY',
      `the SNS message was sent at ${message.Timestamp}, outside the SNS_MAX_AGE window`,
    );
  }
}
