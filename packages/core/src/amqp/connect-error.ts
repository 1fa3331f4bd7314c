import { PermanentError } from '../errors.js';
import { redactUrl } from '../redact-url.js';

/**
 * RabbitMQ's refusals, as amqplib reports them: a login refused during the handshake (`403
 * (ACCESS-REFUSED)`), a permission refused on a declaration (`ACCESS_REFUSED - access to queue
 * … refused for user …`), and a virtual host it will not open. The last one amqplib reports
 * without the broker's reason (`Expected ConnectionOpenOk; got <ConnectionClose channel:0>`):
 * RabbitMQ closes the connection there with NOT_ALLOWED when the vhost does not exist or the
 * user has no permissions on it.
 */
const ACCESS_REFUSED = /ACCESS[_-]REFUSED/;
const LOGIN_REFUSED = /Login was refused|Handshake terminated by server: 403/;
const VHOST_REFUSED = /Expected ConnectionOpenOk; got <ConnectionClose/;

/**
 * The error of a failed connect to `url` (or of declaring the topology on it) as an operator
 * needs it: a refusal that no retry can fix becomes a {@link PermanentError}
 * `RELAY_AMQP_ACCESS_REFUSED` naming the URL (without its password), the user and what to
 * check; any other error is returned unchanged (retried).
 */
export function classifyConnectError(err: unknown, url: string): Error {
  const error = err instanceof Error ? err : new Error(String(err));
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username) || 'guest';
  const vhost = decodeURIComponent(parsed.pathname.slice(1)) || '/';
  const at = redactUrl(url);
  const refused = (message: string) =>
    new PermanentError('RELAY_AMQP_ACCESS_REFUSED', message, {
      cause: error,
      context: { url: at, user, vhost },
    });
  if (LOGIN_REFUSED.test(error.message)) {
    return refused(
      `RabbitMQ at ${at} refused the login of user "${user}" (ACCESS_REFUSED): check the user name and password in AMQP_URL`,
    );
  }
  if (ACCESS_REFUSED.test(error.message)) {
    return refused(
      `RabbitMQ at ${at} refused user "${user}" a permission on virtual host "${vhost}" (${brokerReason(error.message)}): grant it configure, write and read (rabbitmqctl set_permissions -p ${vhost} ${user} '.*' '.*' '.*')`,
    );
  }
  if (VHOST_REFUSED.test(error.message)) {
    return refused(
      `RabbitMQ at ${at} refused to open virtual host "${vhost}" for user "${user}" (NOT_ALLOWED): the vhost does not exist or the user has no permissions on it; check the path of AMQP_URL (rabbitmqctl list_permissions -p ${vhost})`,
    );
  }
  return error;
}

/** The broker's own words in an amqplib message (`… with message "ACCESS_REFUSED - …"`). */
function brokerReason(message: string): string {
  return /with message "([^"]*)"/.exec(message)?.[1] ?? message;
}
