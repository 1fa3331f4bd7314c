import { describe, expect, it } from 'vitest';
import { bucketNameProblem } from './bucket-name.js';

describe('bucketNameProblem', () => {
  it.each([
    'abc',
    'my-bucket.backup',
    'bucketA', // VK Cloud allows capitals (its real webhook fixture)
    'Legacy_Bucket_2012',
    '0start-and-end9',
    'a'.repeat(255),
  ])('accepts %j', (name) => {
    expect(bucketNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['-rf', /begin and end with a letter or digit/],
    ['--help', /begin and end/],
    ['bucket-', /begin and end/],
    ['.hidden', /begin and end/],
    ['ab', /3 to 255 characters/],
    ['a'.repeat(256), /3 to 255 characters/],
    ['../etc', /only letters, digits/],
    ['a/b', /only letters, digits/],
    ['line\nbreak', /only letters, digits/],
    ['tab\there', /only letters, digits/],
    ['space here', /only letters, digits/],
    ['ünïcode', /only letters, digits/],
    ['a..b', /two periods/],
    ['192.168.5.4', /IP address/],
  ])('refuses %j: %s', (name, why) => {
    expect(bucketNameProblem(name)).toMatch(why);
  });
});
