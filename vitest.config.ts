import { defineConfig } from 'vitest/config';

// Tiers: unit tests are colocated and need no network; integration and e2e tests talk to a real
// RabbitMQ and real S3 servers on loopback and therefore run one file at a time; the ceph tier
// runs the pipeline against a real Ceph RGW it starts itself (test/ceph/README.md).
export default defineConfig({
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    restoreMocks: true,
    // The SDK's reminder that its 2027 releases need Node 22 (the lockfile pins one that does not).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    globals: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'packages/*/src/**/*.test.ts',
            'test/unit/**/*.test.ts',
            'test/faults/*.test.ts',
          ],
          // Most finish in milliseconds; a few run a tool (npm --dry-run, docker-compose config,
          // promtool) that takes seconds on a busy machine.
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
          globalSetup: ['test/helpers/global-setup.ts', 'test/helpers/chromium-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          // A local 3-node RabbitMQ cluster per file (test/helpers/rabbit-cluster.ts), which
          // the file starts itself: `npm run test:cluster`.
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'ceph',
          include: ['test/ceph/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
          // One Ceph cluster for every file of the tier (about 20 s to start).
          globalSetup: ['test/ceph/global-setup.ts'],
        },
      },
    ],
  },
});
