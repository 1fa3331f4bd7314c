import amqp, { type ChannelModel, type Options as AmqpOptions } from 'amqplib';
import { declareTopology } from '@s3relay/core/amqp';

/**
 * The broker side of the bench's hand-written ceilings: raw amqplib, the tasks queue declared as
 * s3relay declares it (a quorum queue), and one confirm channel.
 */
export interface TasksChannel {
  readonly connection: ChannelModel;
  /**
   * Publishes one persistent JSON message to the tasks queue, mandatory as the ingress publishes,
   * and resolves on its confirm.
   */
  publish(body: Buffer, properties: AmqpOptions.Publish & { messageId: string }): Promise<void>;
}

export async function openTasksChannel(url: string, prefix: string): Promise<TasksChannel> {
  const connection = await amqp.connect(url);
  const names = await declareTopology(connection, {
    prefix,
    retryDelaysMs: [1000],
    deliveryLimit: 10,
    quorumGroupSize: 3,
  });
  const channel = await connection.createConfirmChannel();
  return {
    connection,
    publish: (body, properties) =>
      new Promise((resolve, reject) => {
        channel.publish(
          '',
          names.tasks,
          body,
          { persistent: true, mandatory: true, contentType: 'application/json', ...properties },
          (err: unknown) =>
            err === null || err === undefined ? resolve() : reject(new Error('nacked')),
        );
      }),
  };
}
