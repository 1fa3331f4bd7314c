import { describe, expect, it } from 'vitest';
import { parseDeleteObjectsKeys } from './multi-delete.js';

describe('parseDeleteObjectsKeys', () => {
  it('returns every key in order, decoded byte for byte', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>false</Quiet>' +
      '<Object><Key>a b+c/ж%.txt</Key></Object>' +
      '<Object><Key>x&amp;y&lt;z&gt;&#13;</Key><VersionId>null</VersionId></Object>' +
      '<Object><Key> padded </Key></Object>' +
      '<Object><Key><![CDATA[<raw>]]></Key></Object>' +
      '<Object><Key>a b+c/ж%.txt</Key></Object>' +
      '</Delete>';
    expect(parseDeleteObjectsKeys(xml)).toEqual({
      ok: true,
      value: ['a b+c/ж%.txt', 'x&y<z>\r', ' padded ', '<raw>', 'a b+c/ж%.txt'],
    });
  });

  it.each([
    ['empty body', ''],
    ['not XML', 'not xml'],
    ['unclosed', '<Delete><Object><Key>a</Key></Object>'],
    ['another root', '<NotDelete><Object><Key>a</Key></Object></NotDelete>'],
    ['no objects', '<Delete><Quiet>true</Quiet></Delete>'],
    ['an object without key', '<Delete><Object><VersionId>1</VersionId></Object></Delete>'],
    ['an unknown element', '<Delete><Thing/></Delete>'],
  ])('refuses %s with MalformedXML', (_name, xml) => {
    const result = parseDeleteObjectsKeys(xml);
    expect(result.ok).toBe(false);
    expect(result.ok ? undefined : result.error).toMatchObject({
      status: 400,
      code: 'MalformedXML',
    });
  });
});
