import { PutBucketNotificationConfigurationCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * Sends `PUT /<bucket>?notification` with a VK `NotificationConfiguration` body through the AWS
 * SDK. The SDK's model has no `SimpleTopicConfiguration` (VK's own element), so the command is
 * sent with an empty configuration and a middleware swaps the serialised body for `xml` before
 * the request is signed: the request is otherwise exactly the SDK's (SigV4, headers, retries).
 */
export async function putNotificationConfigurationXml(
  client: S3Client,
  bucket: string,
  xml: string,
): Promise<void> {
  const command = new PutBucketNotificationConfigurationCommand({
    Bucket: bucket,
    NotificationConfiguration: {},
  });
  command.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { body?: unknown; headers?: Record<string, string> };
      request.body = xml;
      if (request.headers !== undefined) {
        request.headers['content-length'] = String(Buffer.byteLength(xml));
        request.headers['content-type'] = 'application/xml';
      }
      return next(args);
    },
    // Build runs after serialisation and before signing (finalizeRequest).
    { step: 'build', name: 's3relayVkNotificationBody', priority: 'high' },
  );
  await client.send(command);
}
