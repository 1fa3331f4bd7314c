import { describe, expect, it } from 'vitest';
import { connectionOrder, nodeLabel, parseBrokerUrls, redactUrls } from './endpoints.js';

describe('parseBrokerUrls', () => {
  it('takes one URL, or a comma-separated list with spaces and stray commas ignored', () => {
    expect(parseBrokerUrls('amqp://guest:guest@127.0.0.1:5672')).toEqual([
      'amqp://guest:guest@127.0.0.1:5672',
    ]);
    expect(parseBrokerUrls(', amqp://a:5672 ,amqps://b/vhost, ,AMQP://c:5673,')).toEqual([
      'amqp://a:5672',
      'amqps://b/vhost',
      'AMQP://c:5673',
    ]);
    expect(() => parseBrokerUrls(' , ')).toThrow('at least one');
  });

  it('keeps a comma inside a password or a query in its own entry', () => {
    expect(parseBrokerUrls('amqp://u:p,w@a:5672?x=1,2,amqp://u:p,w@b:5672')).toEqual([
      'amqp://u:p,w@a:5672?x=1,2',
      'amqp://u:p,w@b:5672',
    ]);
  });

  it('says which entry is wrong without repeating it', () => {
    expect(() => parseBrokerUrls('')).toThrow('at least one amqp:// or amqps:// URL');
    expect(() => parseBrokerUrls('http://u:secret@a')).toThrow(
      'the URL must be amqp:// or amqps://',
    );
    expect(() => parseBrokerUrls('amqp://a,amqp://')).toThrow(
      /^URL 2 of 2 (is not a URL|has no host)$/,
    );
    expect(() => parseBrokerUrls('not a url')).toThrow('the URL is not a URL');
  });
});

describe('redaction and labels', () => {
  it('replaces every password and keeps the rest', () => {
    expect(redactUrls(['amqp://u:one@a:1', 'amqp://u:two@b:2'])).toBe(
      'amqp://u:***@a:1,amqp://u:***@b:2',
    );
  });

  it('labels a node by host and port, the scheme default when absent', () => {
    expect(nodeLabel('amqp://u:p@rabbit-0.rabbit:5672/x')).toBe('rabbit-0.rabbit:5672');
    expect(nodeLabel('amqp://rabbit')).toBe('rabbit:5672');
    expect(nodeLabel('amqps://rabbit')).toBe('rabbit:5671');
  });
});

describe('connectionOrder', () => {
  const urls = ['a', 'b', 'c'];

  it('is a permutation of the URLs', () => {
    for (let seed = 0; seed < 20; seed += 1) {
      expect([...connectionOrder(urls)].sort()).toEqual(urls);
    }
  });

  it('spreads processes over every node first, and over every successor of a node', () => {
    // Many processes, each with its own random order: every node is someone's first choice,
    // and the clients of a failed node do not all move to the same next node.
    const firsts = new Map<string, number>();
    const afterA = new Set<string>();
    for (let process = 0; process < 300; process += 1) {
      const order = connectionOrder(urls);
      firsts.set(order[0] as string, (firsts.get(order[0] as string) ?? 0) + 1);
      const next = order[(order.indexOf('a') + 1) % order.length] as string;
      afterA.add(next);
    }
    for (const url of urls) expect(firsts.get(url) ?? 0).toBeGreaterThan(50);
    expect(afterA).toEqual(new Set(['b', 'c']));
  });

  it('follows the random source it is given', () => {
    expect(connectionOrder(urls, () => 0.999)).toEqual(['a', 'b', 'c']);
    expect(connectionOrder(urls, () => 0)).toEqual(['b', 'c', 'a']);
  });
});
