import { describe, expect, it } from 'vitest';
import { vkSignature } from '@s3relay/core';
import { resolveSigningUrl } from './signing-url.js';

/** The handshake of reference 7.1 (VK-1..VK-5 share it). */
const HANDSHAKE = {
  timestamp: '2019-12-26T19:29:12+03:00',
  topicArn: 'mcs2883541269|bucketA|s3:ObjectCreated:Put',
  token: 'RPE5UuG94rGgBH6kHXN9FUPugFxj1hs2aUQc99btJp3E49tA',
};

describe('resolveSigningUrl with the reference vectors', () => {
  it.each([
    [
      'VK-1',
      'http://test.com',
      '/',
      'ea3fce4bb15c6de4fec365d36bcebbc34ccddf54616d5ca12e1972f82b6d37af',
    ],
    [
      'VK-2',
      'http://test.com/',
      '/',
      '8af7165b23eae47d21a601fbb6dd7d9258a3319aeb29956bdc0c09cfc4243767',
    ],
    [
      'VK-3',
      'https://test.com',
      '/',
      'adee145c03d5f892069a7485357f9eae756c945a9f612f338a33441f0443f490',
    ],
    [
      'VK-4',
      'https://hooks.example.com/s3/vk?token=s3cr3t',
      '/s3/vk?token=s3cr3t',
      'ed481ae7345b9280e3fb7161fdec1b4382598a18e25773af75c6c4434f88fb84',
    ],
    [
      'VK-5',
      'https://hooks.example.com/s3/vk',
      '/s3/vk',
      '6bc77b634ecb5dcdd03925fc3154f8066946a6f9091db9f549edbc65ae67bce9',
    ],
  ])('%s: signs the registered string byte for byte', (_name, registered, path, expected) => {
    const signing = resolveSigningUrl(['https://other.example.com/elsewhere', registered], {
      protocol: 'http',
      host: 'internal:8080',
      pathAndQuery: path,
    });
    expect(signing).toEqual({ url: registered, from: 'public-urls' });
    expect(vkSignature(HANDSHAKE, signing.url)).toBe(expected);
  });
});

describe('resolveSigningUrl', () => {
  it('prefers the entry on the request host when several share the path', () => {
    const signing = resolveSigningUrl(
      ['https://a.example.com/webhook/mcs', 'https://b.example.com/webhook/mcs'],
      { protocol: 'https', host: 'b.example.com', pathAndQuery: '/webhook/mcs' },
    );
    expect(signing.url).toBe('https://b.example.com/webhook/mcs');
  });

  it('does not match when the query differs (the query is signed)', () => {
    const signing = resolveSigningUrl(['https://hooks.example.com/s3/vk?token=s3cr3t'], {
      protocol: 'https',
      host: 'hooks.example.com',
      pathAndQuery: '/s3/vk?token=other',
    });
    expect(signing).toEqual({
      url: 'https://hooks.example.com/s3/vk?token=other',
      from: 'request',
    });
  });

  it('rebuilds the URL from the request when nothing matches, query included', () => {
    expect(
      resolveSigningUrl([], {
        protocol: 'https',
        host: 'hooks.example.com:8443',
        pathAndQuery: '/webhook/mcs?token=a%20b',
      }),
    ).toEqual({ url: 'https://hooks.example.com:8443/webhook/mcs?token=a%20b', from: 'request' });
  });

  it('keeps the trailing slash of the request as received', () => {
    expect(
      resolveSigningUrl(['https://h.example.com/webhook'], {
        protocol: 'https',
        host: 'h.example.com',
        pathAndQuery: '/webhook/',
      }).from,
    ).toBe('request');
  });
});
