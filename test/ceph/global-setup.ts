/**
 * Vitest globalSetup of the ceph tier: a RabbitMQ as for the other tiers, and one Ceph cluster
 * for every file of the tier (test workers are forked after this and inherit `process.env`). A
 * cluster that cannot start fails the tier: a tier that skips cannot fail.
 */
import { CEPH_TEST_ENV, startCephRgw, type CephConnection } from '../helpers/ceph-rgw.js';
import rabbitSetup from '../helpers/global-setup.js';

export default async function setup(): Promise<() => Promise<void>> {
  const rabbitTeardown = await rabbitSetup();
  const log = (line: string) => process.stderr.write(`[s3relay ceph tier] ${line}\n`);
  let rgw;
  try {
    rgw = await startCephRgw({ log });
  } catch (err) {
    await rabbitTeardown?.();
    throw err;
  }
  const connection: CephConnection = { endpoint: rgw.endpoint, users: rgw.users };
  process.env[CEPH_TEST_ENV] = JSON.stringify(connection);
  return async () => {
    delete process.env[CEPH_TEST_ENV];
    await rgw.dispose();
    await rabbitTeardown?.();
  };
}
