import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './cli-process.js';

// The CLI as the production image has it: the runtime stage of the Dockerfile replayed into a
// temporary directory (its manifests, its compiled code, and exactly the packages its `npm ci`
// installs, linked from this checkout instead of downloaded). The emulator is a development
// dependency there (docs/ARCHITECTURE.md, "Why the emulator is a development dependency"):
// its package.json is present, its code and s3rver are not.

const exec = promisify(execFile);

/** `COPY` sources and targets of the Dockerfile's last stage, and its `npm ci` command. */
async function runtimeStage(): Promise<{
  copies: { from: string; to: string }[];
  install: string[];
}> {
  const lines = (await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'))
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stage = lines.slice(lines.findLastIndex((line) => /^FROM\s/i.test(line)));
  const copies = stage
    .filter((line) => /^COPY\s/i.test(line))
    .flatMap((line) => {
      const words = line.split(/\s+/).slice(1);
      const paths = words.filter((word) => !word.startsWith('--'));
      const to = paths.at(-1) ?? '';
      // The build stage's WORKDIR is /app and it builds what this checkout has built.
      return paths.slice(0, -1).map((source) => {
        const from = source.replace(/^\/app\//, '');
        return { from, to: to.endsWith('/') ? join(to, from.split('/').at(-1) ?? '') : to };
      });
    });
  const install = stage.map((line) => /\bnpm ci[^&;]*/.exec(line)?.[0]).find(Boolean);
  if (install === undefined) throw new Error('the runtime stage runs no npm ci');
  return { copies, install: install.trim().split(/\s+/).slice(1) };
}

describe('the CLI of the production image, without the emulator', () => {
  let image: string;
  const run = (args: string[]) =>
    exec(process.execPath, ['packages/cli/dist/main.js', ...args], {
      cwd: image,
      env: { ...process.env, NODE_ENV: 'production' },
    });

  beforeAll(async () => {
    const stage = await runtimeStage();
    image = await mkdtemp(join(tmpdir(), 's3relay-image-'));
    for (const { from, to } of stage.copies) {
      await mkdir(dirname(join(image, to)), { recursive: true });
      await cp(join(REPO_ROOT, from), join(image, to), { recursive: true });
    }
    // The packages a production install has: every one the lock does not mark as for
    // development only, linked from this checkout at the same path (test/unit/compose.test.ts
    // checks npm's own plan for that install).
    expect(stage.install).toContain('--omit=dev');
    const lock = JSON.parse(await readFile(join(image, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; link?: boolean; resolved?: string }>;
    };
    const linked: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages).sort(
      ([a], [b]) => a.length - b.length,
    )) {
      if (!path.includes('node_modules/') || entry.dev === true) continue;
      if (linked.some((parent) => path.startsWith(`${parent}/`))) continue;
      const target =
        entry.link === true ? join(image, entry.resolved ?? '') : join(REPO_ROOT, path);
      await mkdir(dirname(join(image, path)), { recursive: true });
      await symlink(target, join(image, path));
      linked.push(path);
    }
  });

  afterAll(async () => {
    if (image !== undefined) await rm(image, { recursive: true, force: true });
  });

  it('has the emulator package without its code, and no s3rver', () => {
    expect(existsSync(join(image, 'packages/cli/dist/main.js'))).toBe(true);
    expect(existsSync(join(image, 'packages/emulator/package.json'))).toBe(true);
    expect(existsSync(join(image, 'packages/emulator/dist'))).toBe(false);
    expect(existsSync(join(image, 'node_modules/s3rver'))).toBe(false);
  });

  it('runs the operator commands', async () => {
    const { stdout } = await run(['config', '--table']);
    expect(stdout).toContain('| `AMQP_URL` |');
  });

  it('says clearly that `s3relay dev` needs the emulator, and how to get it', async () => {
    const failure = (await run(['dev']).then(
      () => undefined,
      (err: unknown) => err,
    )) as { code?: number; stderr?: string } | undefined;
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain('s3relay dev needs the emulator');
    expect(failure?.stderr).toContain('npm ci');
  });
});
