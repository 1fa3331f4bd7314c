/**
 * LOG_FORMAT=pretty colours a terminal, and nothing else: not a pipe or a file (where escape
 * codes are noise), and not a terminal when NO_COLOR is set. A real `s3relay ingress` writes to
 * a pipe, and to a pseudo-terminal made by util-linux `script`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteQueuesWithPrefix, eventually, rabbitUrl, uniquePrefix } from '../helpers/index.js';
import { CLI_MAIN } from './cli-process.js';

const prefix = uniquePrefix('colors');

afterAll(async () => {
  await deleteQueuesWithPrefix(rabbitUrl(), prefix);
});

/** What `s3relay ingress` writes until it listens, on a pipe or on a terminal. */
async function startupOutput(on: 'pipe' | 'terminal', env: Record<string, string> = {}) {
  const command = [process.execPath, CLI_MAIN, 'ingress'];
  const [file, args] =
    on === 'pipe'
      ? [command[0] ?? '', command.slice(1)]
      : ['script', ['-qefc', command.map((word) => `'${word}'`).join(' '), '/dev/null']];
  const child = spawn(file, args, {
    env: {
      ...process.env,
      AMQP_URL: rabbitUrl(),
      AMQP_PREFIX: prefix,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      HTTP_METRICS_PORT: '0',
      LOG_FORMAT: 'pretty',
      NO_COLOR: '',
      FORCE_COLOR: '',
      ...env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  try {
    await eventually(() => expect(output).toContain('ingress listening'), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
  } finally {
    // The whole group: under `script` the ingress is a grandchild.
    process.kill(-(child.pid ?? 0), 'SIGTERM');
    await exited;
  }
  return output;
}

/** Where an ANSI colour (SGR) sequence begins. */
const ESCAPE = '\x1b[';

describe('LOG_FORMAT=pretty', () => {
  it('writes no colour codes into a pipe', async () => {
    const output = await startupOutput('pipe');
    expect(output).toMatch(/ info \[ingress\] ingress listening/);
    expect(output).not.toContain(ESCAPE);
  });

  it('colours a terminal, unless NO_COLOR is set', async () => {
    expect(await startupOutput('terminal')).toContain(`${ESCAPE}32minfo${ESCAPE}39m`);
    const plain = await startupOutput('terminal', { NO_COLOR: '1' });
    expect(plain).toContain('ingress listening');
    expect(plain).not.toContain(ESCAPE);
  });
});
