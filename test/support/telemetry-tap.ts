import type { ChannelModel } from 'amqplib';
import {
  parseTelemetrySnapshot,
  telemetryExchange,
  type TelemetrySnapshot,
} from '@s3relay/core/telemetry';
import { connectAmqp } from '../helpers/rabbit.js';

/** Every telemetry snapshot published under a prefix from now on, as a console would hear it. */
export interface TelemetryTap {
  readonly snapshots: TelemetrySnapshot[];
  close(): Promise<void>;
}

export async function tapTelemetry(url: string, prefix: string): Promise<TelemetryTap> {
  const connection: ChannelModel = await connectAmqp(url);
  connection.on('error', () => undefined);
  const channel = await connection.createChannel();
  const exchange = telemetryExchange(prefix);
  await channel.assertExchange(exchange, 'fanout', { durable: false });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, exchange, '');
  const snapshots: TelemetrySnapshot[] = [];
  await channel.consume(
    queue,
    (message) => {
      const snapshot = message === null ? undefined : parseTelemetrySnapshot(message.content);
      if (snapshot !== undefined) snapshots.push(snapshot);
    },
    { noAck: true },
  );
  return {
    snapshots,
    close: () => connection.close().catch(() => undefined),
  };
}
