import { describe, expect, it } from 'vitest';
import { presentedTokens, tokenMatches } from './webhook-auth.js';

describe('presentedTokens', () => {
  it('reads a Bearer header, the path segment and ?token=', () => {
    expect(
      presentedTokens({
        authorization: 'Bearer abc',
        pathToken: 'def',
        pathAndQuery: '/webhook/mcs/def?token=ghi&token=jkl',
      }),
    ).toEqual(['abc', 'def', 'ghi', 'jkl']);
  });

  it('reads the password of Basic credentials', () => {
    const basic = Buffer.from('sns:s3cr:et').toString('base64');
    expect(
      presentedTokens({
        authorization: `Basic ${basic}`,
        pathToken: undefined,
        pathAndQuery: '/webhook',
      }),
    ).toEqual(['s3cr:et']);
  });

  it('presents nothing without credentials', () => {
    expect(
      presentedTokens({
        authorization: 'Token abc',
        pathToken: undefined,
        pathAndQuery: '/webhook',
      }),
    ).toEqual([]);
  });
});

describe('tokenMatches', () => {
  it('matches only the exact token', () => {
    expect(tokenMatches('s3cr3t', ['nope', 's3cr3t'])).toBe(true);
    expect(tokenMatches('s3cr3t', ['s3cr3t2', 'S3CR3T', ''])).toBe(false);
    expect(tokenMatches('s3cr3t', [])).toBe(false);
  });
});
