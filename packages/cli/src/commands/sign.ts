import { Command } from 'commander';
import { vkSignature } from '@s3relay/core';
import type { Output } from '../output.js';

/** `s3relay sign`: computes the VK Cloud (MCS) handshake signature, to debug a registration. */
export function signCommand(output: () => Output): Command {
  return new Command('sign')
    .description('compute the VK Cloud (MCS) webhook handshake signature for a registered URL')
    .requiredOption('--token <token>', 'Token field of the SubscriptionConfirmation')
    .requiredOption('--timestamp <timestamp>', 'Timestamp field, exactly as received')
    .requiredOption(
      '--topic-arn <arn>',
      'TopicArn field, e.g. mcs2883541269|bucketA|s3:ObjectCreated:Put',
    )
    .requiredOption('--url <url>', 'the webhook URL exactly as registered with VK (byte for byte)')
    .addHelpText(
      'after',
      '\nThe signature covers the URL string as registered: a trailing slash, the scheme or a query\n' +
        'string all change it. Token, Timestamp and TopicArn are in the body of the handshake VK\n' +
        'sends. At every handshake the ingress logs "vk handshake signed" with the `signedUrl` it\n' +
        'signed (WEBHOOK_TOKEN shown as ***) and the `topicArn`: when VK refuses a registration,\n' +
        'compare `signedUrl` with the URL registered with VK, byte for byte.',
    )
    .action((flags: { token: string; timestamp: string; topicArn: string; url: string }) => {
      const signature = vkSignature(
        { token: flags.token, timestamp: flags.timestamp, topicArn: flags.topicArn },
        flags.url,
      );
      const out = output();
      out.line(signature);
      out.result({ signature, url: flags.url });
    });
}
