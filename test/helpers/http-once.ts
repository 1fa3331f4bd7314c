import { get } from 'node:http';

/**
 * GET on a connection of its own, closed after the answer (fetch would keep it in its pool, open,
 * counted by a server's connection cap): the status, or a rejection when no answer came within
 * `timeoutMs`.
 */
export function statusOnce(url: string, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get(url, { agent: false, timeout: timeoutMs }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}
