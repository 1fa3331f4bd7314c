import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, DeleteTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { CEPH_REGION, type CephUser } from './ceph-rgw.js';

/**
 * Creates a topic with RGW's SNS-compatible API whose push endpoint is `pushEndpoint` (the
 * ingress, its token in the URL: Ceph sends no credentials). A non-persistent topic pushes each
 * event synchronously inside the S3 request that caused it, so when the request returns the
 * ingress has answered; a persistent one queues and retries in the background.
 */
export async function createCephTopic(options: {
  endpoint: string;
  user: CephUser;
  name: string;
  pushEndpoint: string;
  persistent: boolean;
}): Promise<string> {
  const sns = snsClient(options.endpoint, options.user);
  try {
    const created = await sns.send(
      new CreateTopicCommand({
        Name: options.name,
        Attributes: {
          'push-endpoint': options.pushEndpoint,
          persistent: String(options.persistent),
        },
      }),
    );
    if (created.TopicArn === undefined) throw new Error('CreateTopic returned no TopicArn');
    return created.TopicArn;
  } finally {
    sns.destroy();
  }
}

export async function deleteCephTopic(endpoint: string, user: CephUser, arn: string) {
  const sns = snsClient(endpoint, user);
  try {
    await sns.send(new DeleteTopicCommand({ TopicArn: arn }));
  } finally {
    sns.destroy();
  }
}

/** Points every create and remove event of `bucket` at the topic. */
export async function notifyBucket(client: S3Client, bucket: string, topicArn: string) {
  await client.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        TopicConfigurations: [
          {
            Id: 's3relay',
            TopicArn: topicArn,
            Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'],
          },
        ],
      },
    }),
  );
}

export async function createBucket(
  client: S3Client,
  bucket: string,
  options: { versioned?: boolean } = {},
) {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  if (options.versioned === true) {
    await client.send(
      new PutBucketVersioningCommand({
        Bucket: bucket,
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
  }
}

/** Deletes every version, delete marker and open multipart upload of `bucket`, then the bucket. */
export async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    const objects = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((v) => ({
      Key: v.Key,
      VersionId: v.VersionId,
    }));
    if (objects.length === 0) break;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }));
  }
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const upload of uploads.Uploads ?? []) {
    await client.send(
      new AbortMultipartUploadCommand({
        Bucket: bucket,
        Key: upload.Key,
        UploadId: upload.UploadId,
      }),
    );
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/** Open multipart uploads of `bucket`, as the store itself lists them. */
export async function openUploads(
  client: S3Client,
  bucket: string,
): Promise<{ key: string; uploadId: string }[]> {
  const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (page.Uploads ?? []).map((upload) => ({
    key: upload.Key ?? '',
    uploadId: upload.UploadId ?? '',
  }));
}

function snsClient(endpoint: string, user: CephUser): SNSClient {
  return new SNSClient({
    endpoint,
    region: CEPH_REGION,
    credentials: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey },
  });
}
