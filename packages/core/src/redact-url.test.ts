import { describe, expect, it } from 'vitest';
import { redactUrl } from './redact-url.js';

const TOKEN = 'Zq7-s3cr3t-t0ken+/=';

describe('redactUrl', () => {
  it('hides the password of the user info, whatever the scheme', () => {
    expect(redactUrl('amqp://relay:hunter2@broker:5672/vhost')).toBe(
      'amqp://relay:***@broker:5672/vhost',
    );
    expect(redactUrl('https://sns:p%40ss@hooks.example.com/webhook/sns')).toBe(
      'https://sns:***@hooks.example.com/webhook/sns',
    );
  });

  it('hides every token query parameter, known token or not', () => {
    expect(redactUrl('https://h.example.com/webhook/mcs?a=1&token=abc&token=def#x')).toBe(
      'https://h.example.com/webhook/mcs?a=1&token=***&token=***#x',
    );
    expect(redactUrl('/webhook/mcs?%74oken=abc')).toBe('/webhook/mcs?%74oken=***');
  });

  it('hides a path segment, a user name or a query value equal to a known secret', () => {
    const encoded = encodeURIComponent(TOKEN);
    expect(redactUrl(`https://h.example.com/webhook/ceph/${encoded}`, [TOKEN])).toBe(
      'https://h.example.com/webhook/ceph/***',
    );
    expect(redactUrl(`https://${encoded}@h.example.com/webhook/sns`, [TOKEN])).toBe(
      'https://***@h.example.com/webhook/sns',
    );
    expect(redactUrl(`/webhook?auth=${encoded}`, [TOKEN])).toBe('/webhook?auth=***');
    // Form encoding of the same token (a space as +) in a query.
    expect(redactUrl('/webhook?k=a+b', ['a b'])).toBe('/webhook?k=***');
  });

  it('keeps everything else byte for byte (no normalisation)', () => {
    for (const url of [
      'HTTPS://Hooks.Example.com:443/webhook/mcs',
      'http://h.example.com/webhook/',
      'http://h.example.com',
      'http://h.example.com/a%2Fb/?x=%zz&y',
      'not a url at all',
    ]) {
      expect(redactUrl(url, [TOKEN])).toBe(url);
    }
  });

  it('ignores secrets that are empty or absent', () => {
    expect(redactUrl('http://h.example.com//x', ['', undefined])).toBe('http://h.example.com//x');
  });
});
