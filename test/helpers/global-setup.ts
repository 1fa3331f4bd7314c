/**
 * Vitest globalSetup of the integration and e2e projects: makes sure a RabbitMQ broker answers.
 *
 * - The broker at `AMQP_URL` (default amqp://guest:guest@127.0.0.1:5672) answers: use it.
 * - It does not, and `rabbitmq-server` is installed: start a private node for this run, point
 *   `AMQP_URL` at it and stop it afterwards. Test workers are forked after global setup and
 *   inherit `process.env` (verified by testbed.test.ts), so `rabbitUrl()` and services spawned by
 *   tests see it.
 * - Neither: fail, saying how to get a broker. A tier that silently skips cannot fail.
 */
import { redactUrl } from '@s3relay/core';
import { TESTBED_BROKER_ENV, amqpAnswers, rabbitUrl } from './rabbit.js';
import { rabbitmqServerInstalled, startPrivateRabbit } from './private-rabbit.js';
import { PRIVATE_NODE_ENV } from './rabbitmqctl.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  const url = rabbitUrl();
  if (await amqpAnswers(url, 3000)) {
    process.env[TESTBED_BROKER_ENV] = 'external';
    return undefined;
  }
  if (!rabbitmqServerInstalled()) {
    throw new Error(
      `No RabbitMQ answers at ${redactUrl(url)} and rabbitmq-server is not installed. ` +
        'Install it (apt-get install rabbitmq-server) or start it (rabbitmq-server -detached), ' +
        'or set AMQP_URL to a broker that answers.',
    );
  }
  process.stderr.write(
    `[s3relay test bed] no RabbitMQ answers at ${redactUrl(url)}; starting a private node ` +
      '(start one yourself with `rabbitmq-server -detached` to skip this)\n',
  );
  const rabbit = await startPrivateRabbit();
  const saved = Object.fromEntries(
    [...Object.values(PRIVATE_NODE_ENV), 'AMQP_URL', TESTBED_BROKER_ENV].map((name) => [
      name,
      process.env[name],
    ]),
  );
  process.env.AMQP_URL = rabbit.url;
  process.env[TESTBED_BROKER_ENV] = 'private';
  process.env[PRIVATE_NODE_ENV.node] = rabbit.nodeName;
  process.env[PRIVATE_NODE_ENV.home] = rabbit.home;
  process.env[PRIVATE_NODE_ENV.port] = String(rabbit.port);
  return async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await rabbit.dispose();
  };
}
