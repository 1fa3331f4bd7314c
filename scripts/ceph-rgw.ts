// A throwaway Ceph RGW on this machine, by hand: `npm run ceph` (see `npm run ceph -- --help`).
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  CEPH_REGION,
  ensureCephInstalled,
  startCephRgw,
  sweepStaleClusters,
  type CephRgw,
} from '../test/helpers/ceph-rgw.js';

const USAGE = `npm run ceph -- [options]

Starts a single-node Ceph cluster with an S3 gateway on 127.0.0.1 (one monitor, one OSD, one
gateway, users "source" and "backup"), prints its endpoint and keys, and runs until Ctrl-C
(or SIGTERM), then kills every daemon and deletes its directory. Installs the Debian packages
first when they are missing (root). Several can run at once.

  --port N          the gateway's port (default: a free one)
  --env-file FILE   also write the SOURCE_S3_* and DEST_S3_* variables to FILE
  --install         only install the packages, then exit
  --sweep           only remove clusters whose starting process was killed, then exit
  --help`;

const print = (line = '') => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'env-file': { type: 'string' },
      install: { type: 'boolean', default: false },
      sweep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    print(USAGE);
    return 0;
  }
  const log = (line: string) => process.stderr.write(`[ceph] ${line}\n`);
  if (values.install) {
    await ensureCephInstalled(log);
    print('Ceph is installed');
    return 0;
  }
  if (values.sweep) {
    sweepStaleClusters(log);
    return 0;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
    print(`--port takes a port number, not ${values.port}`);
    return 2;
  }
  const rgw = await startCephRgw({ ...(port === undefined ? {} : { port }), log });
  // The daemons are not this process's handles: without a timer of its own it would exit now.
  const keepAlive = setInterval(() => undefined, 60_000);
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  }).finally(() => clearInterval(keepAlive));
  try {
    const lines = envLines(rgw);
    if (values['env-file'] !== undefined) {
      await writeFile(values['env-file'], `${lines.join('\n')}\n`, { mode: 0o600 });
    }
    describe(rgw, lines);
    await stopped;
    log('stopping…');
  } finally {
    await rgw.dispose();
  }
  log('stopped; nothing left');
  return 0;
}

/** s3relay's variables with the source and backup users. */
function envLines(rgw: CephRgw): string[] {
  const env = { ...rgw.env('SOURCE', rgw.users.source), ...rgw.env('DEST', rgw.users.backup) };
  return Object.entries(env).map(([name, value]) => `${name}=${value}`);
}

function describe(rgw: CephRgw, lines: readonly string[]): void {
  print(`Ceph RGW serving S3 at ${rgw.endpoint} (region "${CEPH_REGION}", path-style)`);
  print(`data, logs and keys in ${rgw.dir}`);
  print();
  for (const user of [rgw.users.source, rgw.users.backup]) {
    print(`user ${user.uid}: access key ${user.accessKeyId}, secret ${user.secretAccessKey}`);
  }
  print();
  print('for s3relay (source = user source, backup = user backup):');
  for (const line of lines) print(`  ${line}`);
  print();
  const { source } = rgw.users;
  print('with the aws CLI:');
  print(
    `  AWS_ACCESS_KEY_ID=${source.accessKeyId} AWS_SECRET_ACCESS_KEY=${source.secretAccessKey} ` +
      `aws --endpoint-url ${rgw.endpoint} --region ${CEPH_REGION} s3 mb s3://my-bucket`,
  );
  print();
  print('Ctrl-C stops it and deletes everything.');
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
