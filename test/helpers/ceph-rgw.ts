/**
 * A throwaway single-node Ceph cluster with a RADOS Gateway (RGW), for tests and for people: one
 * monitor, one OSD, one gateway and two S3 users (`source` and `backup`, separate accounts), all
 * under one temporary directory on 127.0.0.1. About 20 s from nothing to a serving gateway on two
 * cores, about 180 MiB of memory. `npm run ceph` runs it by hand (scripts/ceph-rgw.ts).
 *
 * - The Debian packages are installed when missing ({@link ensureCephInstalled}).
 * - Every port is a free one (monitor v2 and v1, gateway); the OSD picks its own from Ceph's
 *   6800–7300 range and moves on when one is taken, so two clusters can run at once.
 * - Every daemon runs in the foreground in its own process group; {@link CephRgw.dispose} (or the
 *   exit of the process that started it) kills them all and deletes the directory. A cluster
 *   whose owner died without that (SIGKILL) is swept by the next start ({@link sweepStaleClusters}).
 * - The gateway uses the civetweb frontend: beast aborts radosgw on a multi-object delete in a
 *   bucket with notifications (Ceph 16.2.15).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { accessSync, constants, readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { freePort } from './ports.js';

const run = promisify(execFile);

/** The region RGW's default zonegroup answers to (any region is accepted; ARNs carry this one). */
export const CEPH_REGION = 'default';
/** The Debian packages a cluster needs. */
export const CEPH_PACKAGES = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph-common'] as const;
/** Name prefix of every cluster directory under the system's temporary directory. */
const DIR_PREFIX = 's3relay-ceph-';
/** Ceph's own log of each daemon (log_file), beside its output. */
const DAEMON_LOGS: Readonly<Record<string, string>> = {
  mon: 'mon.a.log',
  osd: 'osd.0.log',
  rgw: 'client.rgw.gw1.log',
};
const DAEMONS = ['ceph-mon', 'ceph-osd', 'radosgw', 'monmaptool', 'ceph-authtool', 'radosgw-admin'];

/** An S3 account of the gateway. */
export interface CephUser {
  readonly uid: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface CephRgw {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly port: number;
  /** Where everything lives: config, keys, data, logs (`log/`). */
  readonly dir: string;
  readonly users: { readonly source: CephUser; readonly backup: CephUser };
  /** An SDK client for the gateway as `user`; the caller destroys it. */
  client(user: CephUser): S3Client;
  /** The `SOURCE_S3_*` or `DEST_S3_*` variables that point s3relay at the gateway as `user`. */
  env(side: 'SOURCE' | 'DEST', user: CephUser): Record<string, string>;
  /** Kills every daemon and deletes the directory; idempotent. */
  dispose(): Promise<void>;
}

export interface StartCephOptions {
  /** The gateway's port. @default a free one */
  readonly port?: number;
  /** Progress lines (each step and how long it took). */
  readonly log?: (line: string) => void;
  /** For the whole start, after the packages are there. @default 120000 */
  readonly timeoutMs?: number;
}

/** The connection facts of a running cluster, as the test tier passes them to its workers. */
export interface CephConnection {
  readonly endpoint: string;
  readonly users: { readonly source: CephUser; readonly backup: CephUser };
}

/** True when every binary a cluster needs is installed. */
export function cephInstalled(): boolean {
  return DAEMONS.every((name) => {
    try {
      accessSync(`/usr/bin/${name}`, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Installs the Debian packages when a binary is missing (as root: apt-get update, then install).
 * Thrown, saying what to run, when that is not possible.
 */
export async function ensureCephInstalled(log: (line: string) => void = () => undefined) {
  if (cephInstalled()) return;
  const command = `apt-get install -y ${CEPH_PACKAGES.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`Ceph is not installed and this is not root: run \`sudo ${command}\``);
  }
  log(`installing ${CEPH_PACKAGES.join(' ')} (once per machine, a few minutes)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const options = { env, maxBuffer: 64 * 1024 * 1024 };
  try {
    await run('apt-get', ['update', '-q'], options);
    await run('apt-get', ['install', '-y', '-q', ...CEPH_PACKAGES], options);
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr ?? String(err);
    throw new Error(`\`${command}\` failed: ${detail.trim().split('\n').slice(-5).join('\n')}`);
  }
  if (!cephInstalled()) throw new Error(`\`${command}\` ran, but the Ceph binaries are missing`);
}

/**
 * Starts a cluster and resolves once the gateway serves S3 for both users. Rejects (with the
 * end of the failing daemon's log) and leaves nothing behind when any step fails or the whole
 * takes longer than `timeoutMs`.
 */
export async function startCephRgw(options: StartCephOptions = {}): Promise<CephRgw> {
  const log = options.log ?? (() => undefined);
  await ensureCephInstalled(log);
  sweepStaleClusters(log);
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  await writeFile(join(dir, 'owner.pid'), `${process.pid}\n`);
  const children: ChildProcess[] = [];
  const killAll = () => {
    for (const child of children) killGroup(child.pid);
  };
  // A test process that exits must not leave a cluster behind.
  const onExit = () => {
    killAll();
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  let disposing: Promise<void> | undefined;
  const dispose = () => {
    disposing ??= (async () => {
      const running = children.filter(
        (child) => child.exitCode === null && child.signalCode === null,
      );
      const exits = running.map((child) => once(child, 'exit'));
      // Keeps this process alive until they are gone.
      for (const child of running) child.ref();
      killAll();
      await Promise.all(exits);
      process.off('exit', onExit);
      await rm(dir, { recursive: true, force: true });
    })();
    return disposing;
  };

  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const started = Date.now();
  const step = (what: string) => log(`${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  try {
    const [monV2, monV1, port] = await distinctFreePorts(options.port);
    const fsid = randomUUID();
    const conf = join(dir, 'ceph.conf');
    await writeFile(conf, cephConf({ dir, fsid, monV2, monV1, port }));
    for (const sub of ['mon', 'osd/ceph-0', 'run', 'log', 'crash']) {
      await mkdir(join(dir, sub), { recursive: true });
    }
    const ceph = (args: readonly string[], input?: string) =>
      tool('ceph', ['-c', conf, '--connect-timeout', '10', ...args], input);

    // Keys and the monitor map, then the monitor.
    const monKeyring = join(dir, 'mon.keyring');
    const adminKeyring = join(dir, 'client.admin.keyring');
    await tool('ceph-authtool', [
      '--create-keyring',
      monKeyring,
      '--gen-key',
      '-n',
      'mon.',
      '--cap',
      'mon',
      'allow *',
    ]);
    await tool('ceph-authtool', [
      '--create-keyring',
      adminKeyring,
      '--gen-key',
      '-n',
      'client.admin',
      '--cap',
      'mon',
      'allow *',
      '--cap',
      'osd',
      'allow *',
      '--cap',
      'mgr',
      'allow *',
    ]);
    await tool('ceph-authtool', [monKeyring, '--import-keyring', adminKeyring]);
    const monmap = join(dir, 'monmap');
    await tool('monmaptool', [
      '--create',
      '--fsid',
      fsid,
      '--addv',
      'a',
      monAddress(monV2, monV1),
      monmap,
    ]);
    await tool('ceph-mon', [
      '-c',
      conf,
      '--mkfs',
      '-i',
      'a',
      '--monmap',
      monmap,
      '--keyring',
      monKeyring,
    ]);
    const mon = await daemon(dir, 'mon', ['ceph-mon', '-c', conf, '-i', 'a', '-f']);
    children.push(mon);
    await until(deadline, mon, dir, 'mon', async () => {
      await ceph(['mon', 'stat']);
      return true;
    });
    step('monitor up');

    // One OSD on a sparse BlueStore file.
    const osdUuid = randomUUID();
    const secret = (await tool('ceph-authtool', ['--gen-print-key'])).trim();
    await ceph(['osd', 'new', osdUuid, '-i', '-'], JSON.stringify({ cephx_secret: secret }));
    const osdKeyring = join(dir, 'osd/ceph-0/keyring');
    await tool('ceph-authtool', [
      '--create-keyring',
      osdKeyring,
      '--name',
      'osd.0',
      '--add-key',
      secret,
    ]);
    await tool('ceph-osd', [
      '-c',
      conf,
      '-i',
      '0',
      '--mkfs',
      '--osd-uuid',
      osdUuid,
      '--keyring',
      osdKeyring,
    ]);
    const osd = await daemon(dir, 'osd', [
      'ceph-osd',
      '-c',
      conf,
      '-i',
      '0',
      '-f',
      '--keyring',
      osdKeyring,
    ]);
    children.push(osd);
    await until(deadline, osd, dir, 'osd', async () => {
      const dump = JSON.parse(await ceph(['osd', 'dump', '--format', 'json'])) as {
        osds?: { up?: number }[];
      };
      return dump.osds?.[0]?.up === 1;
    });
    step('OSD up');

    // The gateway, then its users.
    await ceph([
      'auth',
      'get-or-create',
      'client.rgw.gw1',
      'mon',
      'allow rw',
      'osd',
      'allow rwx',
      'mgr',
      'allow rw',
      '-o',
      join(dir, 'client.rgw.gw1.keyring'),
    ]);
    const rgw = await daemon(dir, 'rgw', ['radosgw', '-c', conf, '-n', 'client.rgw.gw1', '-f']);
    children.push(rgw);
    const endpoint = `http://127.0.0.1:${port}`;
    await until(deadline, rgw, dir, 'rgw', async () => {
      const response = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2000) });
      return response.ok;
    });
    step(`gateway serving at ${endpoint}`);
    const users = {
      source: await createUser(conf, 'source'),
      backup: await createUser(conf, 'backup'),
    };
    step('users source and backup created');
    return {
      endpoint,
      port,
      dir,
      users,
      client: (user) => cephClient(endpoint, user),
      env: (side, user) => cephEnv(side, endpoint, user),
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** An SDK client for a Ceph gateway: path-style, checksums only when required. */
export function cephClient(endpoint: string, user: CephUser): S3Client {
  return new S3Client({
    endpoint,
    region: CEPH_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The s3relay variables for one side pointing at the gateway as `user`. */
export function cephEnv(
  side: 'SOURCE' | 'DEST',
  endpoint: string,
  user: CephUser,
): Record<string, string> {
  return {
    [`${side}_S3_ENDPOINT`]: endpoint,
    [`${side}_S3_REGION`]: CEPH_REGION,
    [`${side}_S3_ACCESS_KEY_ID`]: user.accessKeyId,
    [`${side}_S3_SECRET_ACCESS_KEY`]: user.secretAccessKey,
    [`${side}_S3_FORCE_PATH_STYLE`]: 'true',
  };
}

/**
 * Kills the daemons of clusters whose owner process is gone (it was SIGKILLed before it could
 * clean up) and deletes their directories. A pid is killed only while its command line still
 * names the cluster's directory, so a recycled pid is never hit.
 */
export function sweepStaleClusters(log: (line: string) => void = () => undefined): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(readText(join(dir, 'owner.pid')));
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) continue;
    for (const file of ['mon.pid', 'osd.pid', 'rgw.pid']) {
      const pid = Number(readText(join(dir, file)));
      if (!Number.isInteger(pid) || pid <= 0) continue;
      if (readText(`/proc/${pid}/cmdline`).includes(dir)) killGroup(pid);
    }
    rmSync(dir, { recursive: true, force: true });
    log(`removed the cluster ${dir} left by a process that is gone`);
  }
}

function cephConf(c: { dir: string; fsid: string; monV2: number; monV1: number; port: number }) {
  return `[global]
fsid = ${c.fsid}
mon_host = ${monAddress(c.monV2, c.monV1)}
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = ${c.dir}/$name.keyring
run_dir = ${c.dir}/run
crash_dir = ${c.dir}/crash
admin_socket = ${c.dir}/run/$name.asok
log_file = ${c.dir}/log/$name.log
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000

[mon]
mon_data = ${c.dir}/mon/$cluster-$id
# Temporary directories live on small CI disks.
mon_data_avail_warn = 2
mon_data_avail_crit = 1

[osd]
osd_data = ${c.dir}/osd/$cluster-$id
osd_objectstore = bluestore
bluestore_block_create = true
# Sparse: only what is written takes disk space.
bluestore_block_size = 21474836480
bluestore_fsck_on_mount = false
bluestore_fsck_on_umount = false
bluestore_fsck_on_mkfs = false
osd_memory_target = 943718400
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 1

[client.rgw.gw1]
# Not beast: it aborts on a multi-object delete in a bucket with notifications (16.2.15).
rgw_frontends = civetweb port=127.0.0.1:${c.port} num_threads=64
rgw_dns_name = localhost
`;
}

function monAddress(v2: number, v1: number): string {
  return `[v2:127.0.0.1:${v2},v1:127.0.0.1:${v1}]`;
}

/** Runs a Ceph tool to its end; resolves with stdout, rejects with its stderr. */
async function tool(command: string, args: readonly string[], input?: string): Promise<string> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end(input ?? '');
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${String(code)}: ${stderr.trim()}`);
  }
  return stdout;
}

/** A daemon in the foreground, in its own process group, output in `log/<name>.out`. */
async function daemon(dir: string, name: string, argv: readonly string[]): Promise<ChildProcess> {
  const output = await open(join(dir, 'log', `${name}.out`), 'a');
  let child: ChildProcess;
  try {
    const [command = '', ...args] = argv;
    child = spawn(command, args, { detached: true, stdio: ['ignore', output.fd, output.fd] });
  } finally {
    await output.close();
  }
  child.unref();
  if (child.pid !== undefined) await writeFile(join(dir, `${name}.pid`), `${child.pid}\n`);
  return child;
}

/** Polls `ready` (errors count as not yet) until it holds; fails when the daemon exits. */
async function until(
  deadline: number,
  child: ChildProcess,
  dir: string,
  name: string,
  ready: () => Promise<boolean>,
): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`ceph ${name} exited while starting:\n${await tail(dir, name)}`);
    }
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new Error(`ceph ${name} was not ready in time:\n${await tail(dir, name)}`);
    }
    await sleep(250);
  }
}

async function createUser(conf: string, uid: string): Promise<CephUser> {
  const user: CephUser = {
    uid,
    accessKeyId: randomBytes(10).toString('hex').toUpperCase(),
    secretAccessKey: randomBytes(20).toString('hex'),
  };
  await tool('radosgw-admin', [
    '-c',
    conf,
    'user',
    'create',
    `--uid=${uid}`,
    `--display-name=${uid}`,
    `--access-key=${user.accessKeyId}`,
    `--secret-key=${user.secretAccessKey}`,
  ]);
  return user;
}

/** Three different free ports: monitor v2, monitor v1, gateway (the given one if any). */
async function distinctFreePorts(gateway?: number): Promise<[number, number, number]> {
  const ports = new Set<number>(gateway === undefined ? [] : [gateway]);
  const picked: number[] = [];
  while (picked.length < (gateway === undefined ? 3 : 2)) {
    const port = await freePort();
    if (!ports.has(port)) {
      ports.add(port);
      picked.push(port);
    }
  }
  const [monV2 = 0, monV1 = 0, own = 0] = picked;
  return [monV2, monV1, gateway ?? own];
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

async function tail(dir: string, name: string): Promise<string> {
  const texts = await Promise.all(
    [join(dir, 'log', `${name}.out`), join(dir, 'log', DAEMON_LOGS[name] ?? '')].map((path) =>
      readFile(path, 'utf8').catch(() => ''),
    ),
  );
  return texts.join('\n').split('\n').slice(-30).join('\n');
}

/** Set by the ceph tier's global setup (JSON {@link CephConnection}), inherited by its workers. */
export const CEPH_TEST_ENV = 'S3RELAY_TEST_CEPH';

/** The cluster the ceph tier's global setup started; thrown outside that tier. */
export function cephConnection(): CephConnection {
  const value = process.env[CEPH_TEST_ENV];
  if (value === undefined || value === '') {
    throw new Error(
      `${CEPH_TEST_ENV} is not set: run this file in the ceph project (npm run test:ceph)`,
    );
  }
  return JSON.parse(value) as CephConnection;
}
