import { randomBytes } from 'node:crypto';
import amqp, { type ChannelModel, type Message, type Options } from 'amqplib';
import { topologyNames } from '@s3relay/core/amqp';
import { telemetryExchange } from '@s3relay/core/telemetry';
import { rabbitmqctl, targetForNode, targetForUrl } from './rabbitmqctl.js';

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/**
 * Set by the global setup, inherited by test workers: `external` when the broker at `AMQP_URL`
 * answered, `private` when the setup started a node of its own.
 */
export const TESTBED_BROKER_ENV = 'S3RELAY_TEST_BROKER';

/**
 * The broker the tests use: `AMQP_URL`, else the local default. The global setup sets `AMQP_URL`
 * when it had to start a private node, and test workers inherit it.
 */
export function rabbitUrl(): string {
  const url = process.env.AMQP_URL;
  return url === undefined || url === '' ? DEFAULT_AMQP_URL : url;
}

/**
 * A fresh `AMQP_PREFIX` for one test, e.g. `t-ingress-1a2b3c4d`: letters, digits, dots, dashes
 * and underscores only, as the config requires.
 */
export function uniquePrefix(label = 'x'): string {
  const safe =
    label
      .replace(/[^A-Za-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'x';
  return `t-${safe}-${randomBytes(4).toString('hex')}`;
}

/** Opens an AMQP connection; rejects after `timeoutMs` (connect and handshake). */
export function connectAmqp(url: string, timeoutMs = 5000): Promise<ChannelModel> {
  return amqp.connect(url, {
    timeout: timeoutMs,
    clientProperties: { connection_name: 's3relay-test-helper' },
  });
}

/** True when an AMQP handshake with `url` completes within `timeoutMs`. */
export async function amqpAnswers(url: string, timeoutMs = 3000): Promise<boolean> {
  try {
    const connection = await connectAmqp(url, timeoutMs);
    await connection.close();
    return true;
  } catch {
    return false;
  }
}

/** Runs `fn` with a fresh channel on a fresh connection and closes both. */
export async function withChannel<T>(
  url: string,
  fn: (channel: amqp.Channel) => Promise<T>,
): Promise<T> {
  const connection = await connectAmqp(url);
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    return await fn(channel);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/**
 * Deletes every queue named `<prefix>.*`, and the telemetry exchange. The names come from
 * `rabbitmqctl list_queues` when it can reach the broker behind `url`, plus the names the default
 * topology would declare (`tasks`, `dlq`, `retry.<delay>` for `RETRY_DELAYS=1s,10s,1m,10m,1h`), so
 * a broker rabbitmqctl cannot reach is cleaned up too. Missing queues are fine.
 */
export async function deleteQueuesWithPrefix(url: string, prefix: string): Promise<void> {
  const names = new Set<string>();
  const defaults = topologyNames({
    prefix,
    retryDelaysMs: [1000, 10_000, 60_000, 600_000, 3_600_000],
  });
  for (const name of [
    defaults.tasks,
    defaults.dlq,
    defaults.held,
    ...defaults.retryTiers.map((t) => t.queue),
  ]) {
    names.add(name);
  }
  try {
    const listed = await rabbitmqctl(
      ['list_queues', 'name', '--quiet', '--no-table-headers'],
      targetForUrl(url),
    );
    for (const line of listed.split('\n')) {
      const name = line.trim();
      if (name.startsWith(`${prefix}.`)) names.add(name);
    }
  } catch {
    // No rabbitmqctl, or another node: the default names above are the best we can do.
  }
  const connection = await connectAmqp(url);
  connection.on('error', () => undefined);
  try {
    let channel = await connection.createChannel();
    for (const name of names) {
      try {
        await channel.deleteQueue(name);
      } catch {
        // A channel error closes the channel; carry on with a new one.
        channel = await connection.createChannel();
      }
    }
    // Services declare it on their first telemetry snapshot; deleting a missing one is fine.
    await channel.deleteExchange(telemetryExchange(prefix)).catch(() => undefined);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

export interface CloseConnectionsOptions {
  /**
   * Only connections whose `connection_name` client property (set by `Broker`) contains this.
   * Absent: every client connection of the node — including other tests' on a shared broker.
   */
  readonly nameContains?: string;
  /** The node (`rabbit@localhost`, or a private node's name); the default node when absent. */
  readonly node?: string;
  /** Shown to the client as the close reason. @default 'closed by test' */
  readonly reason?: string;
}

/**
 * Force-closes broker connections with `rabbitmqctl close_connection` (the client sees a
 * `CONNECTION_FORCED` close, as when an operator or a node shutdown drops it) and resolves with
 * how many were closed.
 */
export async function closeConnections(options: CloseConnectionsOptions = {}): Promise<number> {
  const target = targetForNode(options.node);
  // The JSON listing carries client properties faithfully but prints pids without their node
  // name, which close_connection needs; the table listing has usable pids. Join on `name`
  // ("<client addr> -> <server addr>"), which is unique per connection.
  const [rows, table] = await Promise.all([
    listConnections(options),
    rabbitmqctl(['list_connections', 'pid', 'name', '--quiet', '--no-table-headers'], target),
  ]);
  const pidsByName = new Map<string, string>();
  for (const line of table.split('\n')) {
    const [pid, name] = line.split('\t');
    if (pid !== undefined && name !== undefined) pidsByName.set(name.trim(), pid.trim());
  }
  let closed = 0;
  for (const row of rows) {
    const pid = pidsByName.get(row.name);
    if (pid === undefined) continue;
    try {
      await rabbitmqctl(['close_connection', pid, options.reason ?? 'closed by test'], target);
      closed += 1;
    } catch {
      // It closed by itself meanwhile.
    }
  }
  return closed;
}

/**
 * The `connection_name` of every client connection of the node (`rabbitmqctl list_connections`)
 * whose name contains `nameContains`; every one when absent.
 */
export async function connectionNames(
  options: Omit<CloseConnectionsOptions, 'reason'> = {},
): Promise<string[]> {
  return (await listConnections(options)).map(connectionName);
}

async function listConnections(
  options: Omit<CloseConnectionsOptions, 'reason'>,
): Promise<ConnectionRow[]> {
  const json = await rabbitmqctl(
    ['list_connections', 'name', 'client_properties', '--formatter', 'json', '-q'],
    targetForNode(options.node),
  );
  return (JSON.parse(json.trim() === '' ? '[]' : json) as ConnectionRow[]).filter((row) =>
    options.nameContains === undefined ? true : connectionName(row).includes(options.nameContains),
  );
}

interface ConnectionRow {
  readonly name: string;
  /** `[name, type, value]` triples; `{}` for a connection still in its handshake. */
  readonly client_properties: readonly (readonly [string, string, unknown])[] | object;
}

function connectionName(row: ConnectionRow): string {
  if (!Array.isArray(row.client_properties)) return '';
  const properties = row.client_properties as readonly (readonly [string, string, unknown])[];
  const property = properties.find(([name]) => name === 'connection_name');
  return typeof property?.[2] === 'string' ? property[2] : '';
}

/** Ready messages in `queue` (checkQueue; unacked deliveries are not counted). */
export function queueDepth(url: string, queue: string): Promise<number> {
  return withChannel(url, async (channel) => (await channel.checkQueue(queue)).messageCount);
}

/** A message as got from a queue, for assertions. */
export type QueueMessage = Pick<Message, 'content' | 'fields' | 'properties'>;

/** Gets and acks every ready message of `queue` (consumes them). */
export function drainQueue(url: string, queue: string): Promise<QueueMessage[]> {
  return withChannel(url, async (channel) => {
    const messages = await getAll(channel, queue);
    // One multiple-ack: RabbitMQ 3.10 quorum queues drop many single acks that arrive just
    // before their channel closes (rabbitmq-server#10327), leaving the queue undrained.
    const last = messages.at(-1);
    if (last !== undefined) channel.ack(last, true);
    // A round trip so the ack has reached the broker before the connection closes.
    await channel.checkQueue(queue);
    return messages;
  });
}

/** Consumes every ready message of `queue` (thousands: much faster than one get each). */
export function consumeAll(url: string, queue: string): Promise<QueueMessage[]> {
  return withChannel(url, async (channel) => {
    const { messageCount } = await channel.checkQueue(queue);
    const messages: QueueMessage[] = [];
    if (messageCount === 0) return messages;
    await new Promise<void>((resolve, reject) => {
      channel
        .consume(
          queue,
          (message) => {
            if (message === null) return;
            messages.push(message);
            if (messages.length === messageCount) resolve();
          },
          { noAck: true },
        )
        .catch(reject);
    });
    return messages;
  });
}

/**
 * Gets every ready message of `queue` and returns them without acking: closing the channel
 * requeues them (with `redelivered` set). On a quorum queue each peek counts as a delivery
 * towards `x-delivery-limit`, so peeking the tasks queue repeatedly can dead-letter its messages.
 */
export function peekQueue(url: string, queue: string): Promise<QueueMessage[]> {
  return withChannel(url, (channel) => getAll(channel, queue));
}

async function getAll(channel: amqp.Channel, queue: string): Promise<QueueMessage[]> {
  const messages: QueueMessage[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: false });
    if (message === false) return messages;
    messages.push(message);
  }
}

/**
 * Publishes raw messages to `queue` through the default exchange with publisher confirms
 * (persistent unless `options` says otherwise); for feeding malformed or hand-made tasks.
 */
export async function publishToQueue(
  url: string,
  queue: string,
  messages: readonly (string | Buffer | { content: string | Buffer; options?: Options.Publish })[],
): Promise<void> {
  const connection = await connectAmqp(url);
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createConfirmChannel();
    for (const message of messages) {
      const { content, options } =
        typeof message === 'string' || Buffer.isBuffer(message)
          ? { content: message, options: undefined }
          : message;
      channel.sendToQueue(queue, Buffer.from(content), { persistent: true, ...options });
    }
    await channel.waitForConfirms();
  } finally {
    await connection.close().catch(() => undefined);
  }
}
