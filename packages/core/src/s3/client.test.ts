import { describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { createS3Client } from './client.js';

const base = {
  endpoint: 'http://127.0.0.1:9',
  region: 'eu-central-1',
  accessKeyId: 'AKID',
  secretAccessKey: 'SECRET',
  forcePathStyle: true,
  checksum: 'when_required',
} as const;

describe('createS3Client', () => {
  it('configures endpoint, region, path style, credentials and checksum mode', async () => {
    const client = createS3Client(base, { maxAttempts: 2 });
    try {
      expect(await client.config.region()).toBe('eu-central-1');
      expect(client.config.forcePathStyle).toBe(true);
      expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
      expect(await client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
      expect(await client.config.maxAttempts()).toBe(2);
      const credentials = await client.config.credentials();
      expect(credentials.accessKeyId).toBe('AKID');
      const endpoint = await client.config.endpoint?.();
      expect(endpoint?.hostname).toBe('127.0.0.1');
    } finally {
      client.destroy();
    }
  });

  it('computes checksums whenever supported when the endpoint allows it', async () => {
    const client = createS3Client({ ...base, checksum: 'when_supported', endpoint: undefined });
    try {
      expect(await client.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED');
      expect(client.config.isCustomEndpoint).toBe(false);
    } finally {
      client.destroy();
    }
  });

  it("gives the SDK a logger of warnings only, so it never copies a command's input to log it", () => {
    const debug: { message: string; meta?: Record<string, unknown> }[] = [];
    const logger = {
      ...silentLogger,
      debug: (message: string, meta?: Record<string, unknown>) => debug.push({ message, meta }),
    };
    const client = createS3Client(base, { logger });
    try {
      const sdk = client.config.logger as unknown as Record<string, unknown>;
      // The SDK's logger middleware calls info and error as optional methods.
      expect(sdk.info).toBeUndefined();
      expect(sdk.error).toBeUndefined();
      client.config.logger.warn('region redirect', { not: 'text' });
      expect(debug).toEqual([{ message: 's3 sdk warning', meta: { detail: 'region redirect' } }]);
    } finally {
      client.destroy();
    }
  });
});
