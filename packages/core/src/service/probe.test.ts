import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { startMetricsServer, type MetricsServer } from '../metrics-server.js';
import type { ServiceState } from './lifecycle.js';
import type { ProbeSource } from './probe.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function probed(source: ProbeSource) {
  const server = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    registry: new Registry(),
    probe: source,
    logger: silentLogger,
    variables: { host: 'METRICS_HOST', port: 'METRICS_PORT' },
  });
  servers.push(server);
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${server.port}${path}`);
    return { status: response.status, body: await response.json() };
  };
  return { get };
}

describe('serveProbe on the metrics server', () => {
  it('is ready while running with every check holding', async () => {
    const checks = { broker: true, consuming: true, s3: true };
    const { get } = await probed({ state: 'running', checks });
    expect(await get('/readyz')).toEqual({
      status: 200,
      body: { status: 'ready', state: 'running', checks },
    });
    expect(await get('/healthz')).toEqual({
      status: 200,
      body: { status: 'ok', state: 'running', checks },
    });
  });

  it('is not ready while a check fails, and alive all the same', async () => {
    const checks = { broker: true, publishing: false };
    const { get } = await probed({ state: 'running', checks });
    expect(await get('/readyz')).toEqual({
      status: 503,
      body: { status: 'not ready', state: 'running', checks },
    });
    expect((await get('/healthz')).status).toBe(200);
  });

  it.each<ServiceState>(['idle', 'starting', 'closing', 'closed', 'failed'])(
    'is not ready when %s, whatever the checks say',
    async (state) => {
      const { get } = await probed({ state, checks: { broker: true } });
      expect(await get('/readyz')).toEqual({
        status: 503,
        body: { status: 'not ready', state, checks: { broker: true } },
      });
    },
  );

  it('reads the state and checks at every probe', async () => {
    let state: ServiceState = 'starting';
    const { get } = await probed({
      get state() {
        return state;
      },
      checks: {},
    });
    expect((await get('/readyz')).status).toBe(503);
    state = 'running';
    expect((await get('/readyz')).status).toBe(200);
  });
});
