import { describe, expect, it } from 'vitest';
import { vkSignature, type VkHandshake } from './signature.js';

// Reference 7.1: VK-1 is VK's documented vector (also pinned by Mail.ru's example server); the
// others were computed independently in the reference and show what the signature covers.
const handshake: VkHandshake = {
  timestamp: '2019-12-26T19:29:12+03:00',
  topicArn: 'mcs2883541269|bucketA|s3:ObjectCreated:Put',
  token: 'RPE5UuG94rGgBH6kHXN9FUPugFxj1hs2aUQc99btJp3E49tA',
};

describe('vkSignature', () => {
  it.each([
    ['VK-1', 'http://test.com', 'ea3fce4bb15c6de4fec365d36bcebbc34ccddf54616d5ca12e1972f82b6d37af'],
    [
      'VK-2',
      'http://test.com/',
      '8af7165b23eae47d21a601fbb6dd7d9258a3319aeb29956bdc0c09cfc4243767',
    ],
    [
      'VK-3',
      'https://test.com',
      'adee145c03d5f892069a7485357f9eae756c945a9f612f338a33441f0443f490',
    ],
    [
      'VK-4',
      'https://hooks.example.com/s3/vk?token=s3cr3t',
      'ed481ae7345b9280e3fb7161fdec1b4382598a18e25773af75c6c4434f88fb84',
    ],
    [
      'VK-5',
      'https://hooks.example.com/s3/vk',
      '6bc77b634ecb5dcdd03925fc3154f8066946a6f9091db9f549edbc65ae67bce9',
    ],
  ])('%s: signs %s exactly as registered', (_name, url, expected) => {
    expect(vkSignature(handshake, url)).toBe(expected);
  });
});
