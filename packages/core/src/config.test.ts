import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig, redactConfig } from './config.js';
import { ConfigError } from './errors.js';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.amqp.urls).toEqual(['amqp://guest:guest@127.0.0.1:5672']);
    expect(config.amqp.quorumGroupSize).toBe(3);
    expect(config.amqp.prefix).toBe('s3relay');
    expect(config.http.port).toBe(8080);
    expect(config.http.host).toBe('127.0.0.1');
    expect(config.http.bodyLimitBytes).toBe(8 * 1024 * 1024);
    expect(config.http.publicUrls).toEqual([]);
    expect(config.worker.retryDelaysMs).toEqual([1000, 10_000, 60_000, 600_000, 3_600_000]);
    expect(config.worker.partSizeBytes).toBe(8 * 1024 * 1024);
    expect(config.worker.replicateDeletes).toBe(true);
    expect(config.dest.bucket).toBe('{bucket}');
    expect(config.source.forcePathStyle).toBe(false);
    expect(config.log).toEqual({ level: 'info', format: 'json' });
  });

  it('parses lists, durations, sizes, booleans and CIDRs', () => {
    const config = loadConfig({
      PUBLIC_URLS: 'https://hooks.example.com/webhook?token=a, http://test.com',
      RETRY_DELAYS: '500ms,2s,1h15m',
      HTTP_BODY_LIMIT: '512kb',
      TRUST_PROXY: 'yes',
      REPLICATE_DELETES: 'false',
      ALLOWED_IPS: '10.0.0.0/8,::1',
      SOURCE_S3_ENDPOINT: 'http://127.0.0.1:9000',
      SNS_MAX_AGE: '30m',
    });
    expect(config.http.publicUrls).toEqual([
      'https://hooks.example.com/webhook?token=a',
      'http://test.com',
    ]);
    expect(config.worker.retryDelaysMs).toEqual([500, 2000, 4_500_000]);
    expect(config.http.bodyLimitBytes).toBe(512 * 1024);
    expect(config.http.trustProxy).toEqual({ kind: 'hops', hops: 1 });
    expect(config.worker.replicateDeletes).toBe(false);
    expect(config.http.allowedIps.map((cidr) => cidr.prefix)).toEqual([8, 128]);
    expect(config.source.forcePathStyle).toBe(true);
    expect(config.http.snsMaxAgeMs).toBe(1_800_000);
  });

  it('refuses a headers timeout longer than the request timeout that contains it', () => {
    expect(() =>
      loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '15000' }),
    ).toThrow(/HTTP_HEADERS_TIMEOUT_MS exceeds HTTP_REQUEST_TIMEOUT_MS/);
    expect(
      loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '15000', HTTP_REQUEST_TIMEOUT_MS: '15000' }).http
        .headersTimeoutMs,
    ).toBe(15_000);
  });

  it('refuses one backup bucket for any number of source buckets, naming the variables', () => {
    expect(() => loadConfig({ DEST_BUCKET: 'backup' })).toThrow(ConfigError);
    expect(() => loadConfig({ DEST_BUCKET: 'backup', SOURCE_BUCKETS: 'photos,logs' })).toThrow(
      /DEST_BUCKET "backup" is one backup bucket for every source bucket and SOURCE_BUCKETS lists 2 buckets[^]*→ at DEST_BUCKET, DEST_PREFIX, SOURCE_BUCKETS/,
    );
    expect(loadConfig({ DEST_BUCKET: 'backup', SOURCE_BUCKETS: 'photos' }).source.buckets).toEqual([
      'photos',
    ]);
    expect(loadConfig({ DEST_BUCKET: 'backup', DEST_PREFIX: '{bucket}/' }).dest.prefix).toBe(
      '{bucket}/',
    );
    expect(() => loadConfig({ DEST_PREFIX: '{bucket}-' })).toThrow(
      /DEST_PREFIX must follow \{bucket\} with "\/"/,
    );
  });

  it('refuses a source or fixed backup bucket that is not a bucket name, one line per name', () => {
    const message = (() => {
      try {
        loadConfig({ SOURCE_BUCKETS: 'photos, ab,-rf', DEST_BUCKET: 'backup/2026' });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    const lines = message.split('\n');
    expect(lines).toContain(
      '✖ SOURCE_BUCKETS="photos, ab,-rf": "ab" is not a bucket name: must be 3 to 255 characters long',
    );
    expect(lines).toContain(
      '✖ SOURCE_BUCKETS="photos, ab,-rf": "-rf" is not a bucket name: must begin and end with a letter or digit',
    );
    expect(lines).toContain(
      '✖ DEST_BUCKET=backup/2026: "backup/2026" is not a bucket name: may hold only letters, digits, ".", "-" and "_"',
    );
    expect(message).not.toContain('"photos" is not');
    // A template is a bucket name only once expanded: each source bucket is checked instead.
    expect(loadConfig({ DEST_BUCKET: '{bucket}-backup' }).dest.bucket).toBe('{bucket}-backup');
    expect(loadConfig({ SOURCE_BUCKETS: 'Photos_2009' }).source.buckets).toEqual(['Photos_2009']);
  });

  it('reports every invalid variable in one error and never exits', () => {
    let error: unknown;
    try {
      loadConfig({
        HTTP_PORT: 'eighty',
        AMQP_URL: 'http://not-amqp',
        RETRY_DELAYS: '1s,soon',
        LOG_FORMAT: 'xml',
        ALLOWED_IPS: '10.0.0.0/99',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['HTTP_PORT', 'AMQP_URL', 'RETRY_DELAYS', 'LOG_FORMAT', 'ALLOWED_IPS']) {
      expect(message).toContain(name);
    }
    expect((error as ConfigError).code).toBe('RELAY_CONFIG_INVALID');
  });

  it('takes the URL of every node of a cluster in AMQP_URL', () => {
    const config = loadConfig({
      AMQP_URL:
        'amqp://relay:pw@rabbit-0:5672/prod, amqp://relay:pw@rabbit-1:5672/prod,amqps://relay:pw@rabbit-2/prod',
      AMQP_QUORUM_GROUP_SIZE: '5',
    });
    expect(config.amqp.urls).toEqual([
      'amqp://relay:pw@rabbit-0:5672/prod',
      'amqp://relay:pw@rabbit-1:5672/prod',
      'amqps://relay:pw@rabbit-2/prod',
    ]);
    expect(config.amqp.quorumGroupSize).toBe(5);
  });

  it('names the bad entry of a node list by position, without its value', () => {
    const secret = 'pa55-in-url';
    let message = '';
    try {
      loadConfig({ AMQP_URL: `amqp://u:${secret}@a:5672,http://u:${secret}@b:5672` });
    } catch (err) {
      message = (err as Error).message;
    }
    // The second entry does not start with amqp://, so it is part of the first entry's text.
    expect(message).toContain('AMQP_URL');
    expect(message).not.toContain(secret);
    expect(() => loadConfig({ AMQP_URL: 'amqp://a:5672,amqp://' })).toThrow(
      /URL 2 of 2 (is not a URL|has no host)/,
    );
    expect(() => loadConfig({ AMQP_URL: ' , ' })).toThrow(/AMQP_URL/);
    expect(() => loadConfig({ AMQP_QUORUM_GROUP_SIZE: '0' })).toThrow(/AMQP_QUORUM_GROUP_SIZE/);
  });

  it('requires ACTION_SCRIPT when ACTION=script', () => {
    expect(() => loadConfig({ ACTION: 'script' })).toThrow(/ACTION_SCRIPT/);
    expect(loadConfig({ ACTION: 'script', ACTION_SCRIPT: './backup.sh' }).worker.actionScript).toBe(
      './backup.sh',
    );
  });

  it('shows the bad value of each variable and what it should be, secrets as ***', () => {
    const message = (() => {
      try {
        loadConfig({
          WORKER_CONCURRENCY: 'abc',
          PART_SIZE_MB: '1.5',
          AMQP_PREFIX: 'bad prefix!',
          CONSOLE_TOKEN: 'short-secret',
        });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    const lines = message.split('\n');
    expect(lines).toContain('✖ WORKER_CONCURRENCY=abc: expected a whole number from 1 to 1000');
    expect(lines).toContain('✖ PART_SIZE_MB=1.5: expected a whole number from 5 to 5120');
    expect(lines.find((line) => line.startsWith('✖ AMQP_PREFIX="bad prefix!": '))).toBeDefined();
    expect(lines.find((line) => line.startsWith('✖ CONSOLE_TOKEN=***: '))).toBeDefined();
    expect(message).not.toContain('short-secret');
    expect(message).not.toContain('NaN');
  });

  it('never puts a secret value into an error message', () => {
    const secret = 'hunter2-very-secret';
    try {
      loadConfig({ AMQP_URL: `ftp://user:${secret}@host`, HTTP_PORT: 'x', WEBHOOK_TOKEN: secret });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
  });

  it('refuses a WEBHOOK_TOKEN that is short, blank or padded, without quoting it', () => {
    for (const token of ['a', 'fifteen-chars!!', '                ', ' sixteen-chars-xx ']) {
      let message = '';
      try {
        loadConfig({ WEBHOOK_TOKEN: token });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, JSON.stringify(token)).toContain('WEBHOOK_TOKEN');
      if (token.trim().length > 1) expect(message).not.toContain(token.trim());
    }
    expect(loadConfig({ WEBHOOK_TOKEN: 'sixteen-chars-xx' }).http.webhookToken).toBe(
      'sixteen-chars-xx',
    );
    expect(loadConfig({ WEBHOOK_TOKEN: '' }).http.webhookToken).toBeUndefined();
  });

  it('reads TRUST_PROXY as a hop count or a list of proxy networks', () => {
    const trust = (value: string) => loadConfig({ TRUST_PROXY: value }).http.trustProxy;
    expect(trust('false')).toEqual({ kind: 'hops', hops: 0 });
    expect(trust('2')).toEqual({ kind: 'hops', hops: 2 });
    const networks = trust('10.0.0.0/8, 2001:db8::/32,loopback');
    expect(networks.kind === 'networks' && networks.networks.map((n) => n.text)).toEqual([
      '10.0.0.0/8',
      '2001:db8::/32',
      '127.0.0.0/8',
      '::1/128',
    ]);
    for (const bad of ['maybe', '11', '10.0.0.0/33', ',']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY/);
    }
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.worker.retryDelaysMs)).toBe(true);
  });

  it('redacts every secret for logging', () => {
    const config = loadConfig({
      AMQP_URL: 'amqp://relay:s3cret@rabbit:5672/prod,amqp://relay:s3cret2@rabbit-1:5672/prod',
      WEBHOOK_TOKEN: 'tok3n-0123456789abc',
      SOURCE_S3_SECRET_ACCESS_KEY: 'src-key',
      DEST_S3_SECRET_ACCESS_KEY: 'dst-key',
      CONSOLE_TOKEN: 'console-t0ken-0123456789',
      PUBLIC_URLS:
        'https://h.example.com/webhook/mcs?token=tok3n-0123456789abc,' +
        'https://h.example.com/webhook/ceph/tok3n-0123456789abc,' +
        'https://sns:tok3n-0123456789abc@h.example.com/webhook/sns',
    });
    const redacted = redactConfig(config);
    const text = JSON.stringify(redacted);
    for (const secret of ['s3cret', 'tok3n', 'src-key', 'dst-key', 'console-t0ken'])
      expect(text).not.toContain(secret);
    expect(redacted.amqp.urls).toEqual([
      'amqp://relay:***@rabbit:5672/prod',
      'amqp://relay:***@rabbit-1:5672/prod',
    ]);
    expect(redacted.http.publicUrls).toEqual([
      'https://h.example.com/webhook/mcs?token=***',
      'https://h.example.com/webhook/ceph/***',
      'https://sns:***@h.example.com/webhook/sns',
    ]);
  });

  it('marks the secret variables as secret', () => {
    const secrets = Object.entries(CONFIG_VARIABLES)
      .filter(([, spec]) => spec.secret === true)
      .map(([name]) => name)
      .sort();
    expect(secrets).toEqual([
      'AMQP_URL',
      'CONSOLE_TOKEN',
      'DEST_S3_SECRET_ACCESS_KEY',
      'SOURCE_S3_SECRET_ACCESS_KEY',
      'WEBHOOK_TOKEN',
    ]);
  });

  it('turns telemetry off with 0 and refuses intervals too short to be useful', () => {
    expect(loadConfig({}).telemetryIntervalMs).toBe(5000);
    expect(loadConfig({ TELEMETRY_INTERVAL_MS: '0' }).telemetryIntervalMs).toBe(0);
    expect(() => loadConfig({ TELEMETRY_INTERVAL_MS: '10' })).toThrow(/TELEMETRY_INTERVAL_MS/);
  });

  it('refuses a console token short enough to guess', () => {
    expect(() => loadConfig({ CONSOLE_TOKEN: 'short' })).toThrow(/CONSOLE_TOKEN/);
    expect(loadConfig({ CONSOLE_TOKEN: 'long-enough-token-1' }).console.token).toBe(
      'long-enough-token-1',
    );
  });
});
